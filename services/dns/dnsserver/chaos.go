package dnsserver

import (
	"strings"

	"github.com/miekg/dns"
)

// chaos answers CHAOS-class TXT queries that identify the node, so an
// operator can ask an anycast address which node answered. version.bind is
// refused unless a version is configured.
func (s *Server) chaos(req *dns.Msg, o *Options) *dns.Msg {
	q := req.Question[0]
	var text string
	switch strings.ToLower(q.Name) {
	case "id.server.", "hostname.bind.":
		text = o.Identity
	case "version.bind.", "version.server.":
		text = o.Version
	}
	if text == "" || (q.Qtype != dns.TypeTXT && q.Qtype != dns.TypeANY) {
		return reply(req, dns.RcodeRefused)
	}
	resp := reply(req, dns.RcodeSuccess)
	resp.Authoritative = true
	resp.Answer = []dns.RR{&dns.TXT{
		Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeTXT, Class: dns.ClassCHAOS},
		Txt: splitTXT(text),
	}}
	return resp
}

// splitTXT cuts s into TXT strings of at most 255 bytes.
func splitTXT(s string) []string {
	var out []string
	for len(s) > 255 {
		out = append(out, s[:255])
		s = s[255:]
	}
	return append(out, s)
}
