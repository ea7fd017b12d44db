package secondary

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/miekg/dns"

	authdns "github.com/goleudy/goleudy/services/dns"
)

// Catalog zones (RFC 9432) list the zones to serve as data, so zones are
// added to and removed from every node by changing one zone at the hub.
// We consume version 2 catalogs:
//
//	version.CATALOG      TXT "2"
//	ID.zones.CATALOG     PTR member.example.   (ID: any single label)
//	*.ID.zones.CATALOG   properties (coo, group, ...): ignored
//
// A catalog without exactly one version TXT saying "2" is refused as a
// whole, and the members it had keep being served. A member with more
// than one PTR is ignored, as RFC 9432 section 4.1 says. A zone listed
// twice is served once, under the first unique ID in canonical order.

// parseCatalog returns the members of a catalog zone: member origin
// (lowercased) → unique ID.
func parseCatalog(z *authdns.Zone, log *slog.Logger) (map[string]string, error) {
	origin := z.Origin()
	version := "version." + origin
	zonesSuffix := ".zones." + origin
	var versions []string
	ptrs := map[string][]string{} // unique ID → targets
	var ids []string
	for rr := range z.All() {
		name := strings.ToLower(rr.Header().Name)
		switch rr := rr.(type) {
		case *dns.TXT:
			if name == version {
				versions = append(versions, strings.Join(rr.Txt, ""))
			}
		case *dns.PTR:
			label, ok := strings.CutSuffix(name, zonesSuffix)
			if !ok || label == "" || strings.Contains(strings.ReplaceAll(label, `\.`, ""), ".") {
				continue // a property below a member, or not a member at all
			}
			if _, seen := ptrs[label]; !seen {
				ids = append(ids, label)
			}
			ptrs[label] = append(ptrs[label], canonical(rr.Ptr))
		}
	}
	switch {
	case len(versions) == 0:
		return nil, fmt.Errorf("%w %s: no version property (version.%s TXT)", ErrCatalog, origin, origin)
	case len(versions) > 1:
		return nil, fmt.Errorf("%w %s: %d version properties", ErrCatalog, origin, len(versions))
	case versions[0] != "2":
		return nil, fmt.Errorf("%w %s: schema version %q; only version 2 is supported", ErrCatalog, origin, versions[0])
	}
	sortCanonical(ids)
	members := map[string]string{}
	for _, id := range ids {
		targets := ptrs[id]
		member := targets[0]
		switch {
		case len(targets) > 1:
			log.Warn("dns: secondary: catalog member with more than one PTR ignored", "catalog", origin, "id", id)
		case member == origin:
			log.Warn("dns: secondary: catalog lists itself as a member; ignored", "catalog", origin, "id", id)
		case members[member] != "":
			log.Warn("dns: secondary: zone listed twice in a catalog; using the first", "catalog", origin,
				"zone", member, "id", members[member], "ignored_id", id)
		default:
			if _, ok := dns.IsDomainName(member); ok {
				members[member] = id
			}
		}
	}
	return members, nil
}

// sortCanonical sorts single labels in canonical DNS order, which for
// lowercased labels is byte order.
func sortCanonical(labels []string) { slices.Sort(labels) }
