// Package update is the node's side of A/B updates: the agent that
// installs a new release into the inactive slot and switches to it, and
// the commit that tells the bootloader a slot is good.
//
// A node at a remote site has no one to press a button, so an update
// must never leave it unbootable, wherever the power goes out:
//
//  1. The config names the release to run (config.Update). The agent
//     fetches the bundle's header first and checks the manifest: signed
//     by a release key from the seed, for this board, the build and image
//     the config names, and not lower than the running build unless the
//     operator signed it as a downgrade. A bundle that fails any check is
//     refused, reported, and never fetched again; neither slot is touched.
//  2. It downloads the bundle over the tunnel into a staged file on the
//     data partition, resuming with an HTTP range after a break (a cut
//     tunnel, a reboot), and hashes the image. A corrupted image is
//     refused here, before it is written anywhere.
//  3. It marks the inactive slot bad in the boot state, then writes the
//     image into it, hashing as it goes, reads it back from the device,
//     and gives the volume the slot's label. Power lost now: the
//     bootloader boots the good slot, and the agent writes again from the
//     staged bundle.
//  4. It drains BGP (GRACEFUL_SHUTDOWN, then withdraw), marks the slot for
//     one trial boot, and reboots.
//  5. On the new slot the node commits once it is healthy (Commit, from
//     the node's readiness), and the agent reports the release committed.
//     A slot that never commits (its kernel panics, its node never gets
//     ready in time and reboots, the watchdog fires) is not booted again:
//     the bootloader goes back to the old slot, where the agent reports
//     the rollback with its reason and never tries that build again.
//
// The agent keeps where it is in update.json on the data partition,
// replaced atomically at each step, and the report it sends in heartbeats.
//
// On x86 the boot state is GRUB's environment block (grub/grubenv on the
// boot partition, see image/grub); on a Raspberry Pi it is U-Boot's saved
// environment, uboot.env (see image/rpiboot and image/ubootenv). Both hold
// the same variables under the same rules (grub.State), and both files
// are rewritten in place, same size, with the boot partition remounted
// read-write only for the write (EditBootState). Every other variable in
// them is kept.
package update
