package fat

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Every file has an 8.3 short name; a name that is not exactly one also
// gets long-name (LFN) entries before it, holding it in UTF-16. Short
// names are made by the FAT specification's basis-name algorithm, with a
// "~N" tail when the long name does not fit or lost characters; N counts
// up from 1 past the names already taken in the directory, which, since
// entries are added in sorted order, makes them fixed.

// maxNameUnits is the longest long name, in UTF-16 code units.
const maxNameUnits = 255

// checkName reports whether name can be a long name: what Windows and
// Linux's vfat both accept, without the trailing dots and spaces that
// Windows would silently drop.
func checkName(name string) error {
	switch {
	case name == "" || name == "." || name == "..":
		return fmt.Errorf("name %q is not a file name", name)
	case !utf8.ValidString(name):
		return fmt.Errorf("name %q is not UTF-8", name)
	case strings.HasSuffix(name, ".") || strings.HasSuffix(name, " "):
		return fmt.Errorf("name %q ends in a dot or space, which FAT drops", name)
	case len(utf16.Encode([]rune(name))) > maxNameUnits:
		return fmt.Errorf("name %q is over %d UTF-16 units", name, maxNameUnits)
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7F || strings.ContainsRune(`"*/:<>?\|`, r) {
			return fmt.Errorf("name %q: character %q is not allowed on FAT", name, r)
		}
	}
	return nil
}

// shortChar reports whether c may appear in a short name as it is.
func shortChar(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		strings.IndexByte("$%'-_@~`!(){}^#&", c) >= 0
}

// basis is the first step of short-name generation: the upper-cased
// name, with characters a short name cannot hold replaced by '_' (lossy),
// spaces and leading dots removed, cut to 8.3 at the last dot. fits is
// false if that lost or dropped anything, and the name needs a tail.
func basis(long string) (base, ext string, fits bool) {
	up := []byte{}
	lossy := false
	for _, r := range long {
		switch {
		case r == ' ':
			lossy = true // dropped
		case r >= 'a' && r <= 'z':
			up = append(up, byte(r-'a'+'A'))
		case r < utf8.RuneSelf && (shortChar(byte(r)) || r == '.'):
			up = append(up, byte(r))
		default:
			up = append(up, '_')
			lossy = true
		}
	}
	s := string(up)
	trimmed := strings.TrimLeft(s, ".")
	if trimmed != s {
		lossy = true
	}
	s = trimmed
	b, e := s, ""
	if i := strings.LastIndexByte(s, '.'); i >= 0 {
		b, e = s[:i], s[i+1:]
	}
	if strings.Contains(b, ".") {
		b = strings.ReplaceAll(b, ".", "")
		lossy = true
	}
	if b == "" {
		b, lossy = "_", true
	}
	fits = !lossy && len(b) <= 8 && len(e) <= 3
	if len(b) > 8 {
		b = b[:8]
	}
	if len(e) > 3 {
		e = e[:3]
	}
	return b, e, fits
}

// shortEntryName is base and ext as a directory entry stores them: 11
// bytes, space padded.
func shortEntryName(base, ext string) [11]byte {
	var n [11]byte
	copy(n[:], "           ")
	copy(n[:8], base)
	copy(n[8:], ext)
	return n
}

// shortNamer hands out the short names of one directory.
type shortNamer struct {
	taken map[[11]byte]bool
}

func newShortNamer() *shortNamer { return &shortNamer{taken: map[[11]byte]bool{}} }

// name returns long's short name, and whether long needs LFN entries
// because the short name does not spell it exactly.
func (s *shortNamer) name(long string) ([11]byte, bool, error) {
	base, ext, fits := basis(long)
	if fits {
		n := shortEntryName(base, ext)
		if !s.taken[n] {
			s.taken[n] = true
			return n, displayShort(n) != long, nil
		}
	}
	for i := 1; i <= 999999; i++ {
		tail := "~" + strconv.Itoa(i)
		b := base
		if len(b)+len(tail) > 8 {
			b = b[:8-len(tail)]
		}
		n := shortEntryName(b+tail, ext)
		if !s.taken[n] {
			s.taken[n] = true
			return n, true, nil
		}
	}
	return [11]byte{}, false, fmt.Errorf("no short name left for %q", long)
}

// displayShort is a short entry name as readers show it: "NAME.EXT".
func displayShort(n [11]byte) string {
	base := strings.TrimRight(string(n[:8]), " ")
	ext := strings.TrimRight(string(n[8:]), " ")
	if ext == "" {
		return base
	}
	return base + "." + ext
}

// lfnChecksum ties LFN entries to the short entry they precede.
func lfnChecksum(n [11]byte) byte {
	var sum byte
	for _, c := range n {
		sum = (sum>>1 | sum<<7) + c
	}
	return sum
}

// lfnCount is how many LFN entries long takes: 13 UTF-16 units each.
func lfnCount(long string) int { return (len(utf16.Encode([]rune(long))) + 12) / 13 }

// lfnEntries encodes long as LFN directory entries, in the order they are
// stored: the last part first.
func lfnEntries(long string, short [11]byte) [][dirEntrySize]byte {
	units := utf16.Encode([]rune(long))
	n := lfnCount(long)
	padded := make([]uint16, n*13)
	for i := range padded {
		switch {
		case i < len(units):
			padded[i] = units[i]
		case i == len(units):
			padded[i] = 0
		default:
			padded[i] = 0xFFFF
		}
	}
	sum := lfnChecksum(short)
	entries := make([][dirEntrySize]byte, n)
	for seq := 1; seq <= n; seq++ {
		var e [dirEntrySize]byte
		e[0] = byte(seq)
		if seq == n {
			e[0] |= lfnLast
		}
		e[dirAttr] = attrLFN
		e[13] = sum
		part := padded[(seq-1)*13 : seq*13]
		for i, u := range part {
			off := lfnUnitOffset[i]
			e[off], e[off+1] = byte(u), byte(u>>8)
		}
		entries[n-seq] = e
	}
	return entries
}

// lfnUnitOffset is where each of an LFN entry's 13 UTF-16 units sits.
var lfnUnitOffset = [13]int{1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30}

const lfnLast = 0x40

// checkLabel reports whether label can be a volume label: up to 11 bytes
// of what a short name may hold, and spaces, in upper case.
func checkLabel(label string) error {
	if len(label) > 11 {
		return fmt.Errorf("label %q is over 11 bytes", label)
	}
	if strings.HasPrefix(label, " ") || strings.HasSuffix(label, " ") {
		return fmt.Errorf("label %q starts or ends with a space", label)
	}
	for i := 0; i < len(label); i++ {
		if c := label[i]; !shortChar(c) && c != ' ' {
			return fmt.Errorf("label %q: %q is not allowed (use A-Z, 0-9, space and $%%'-_@~`!(){}^#&)", label, c)
		}
	}
	if label == "NO NAME" {
		return fmt.Errorf("label %q means no label; leave it empty", label)
	}
	return nil
}
