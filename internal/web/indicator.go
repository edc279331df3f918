package web

import (
	"net/http"
	"net/netip"
	"net/url"
	"strings"

	"mailinspector/internal/cli"
)

// indicatorLink is the console's Threat Connect page of a finding's
// object (a SHA-256, a URL, an IP or a domain); "" for none.
func indicatorLink(object string) string {
	if object == "" {
		return ""
	}
	kind := "domain"
	switch {
	case strings.Contains(object, "://"):
		kind = "url"
	case len(object) == 64 && strings.Trim(object, "0123456789abcdef") == "":
		kind = "hash"
	default:
		if _, err := netip.ParseAddr(object); err == nil {
			kind = "ip"
		}
	}
	return "/indicators/" + kind + "?value=" + url.QueryEscape(object)
}

// indicator is Threat Connect's page of an indicator: what the hub knows,
// fetched by the appliance (the hub wants the appliance's key), or, out
// of reach, this page saying so — the detection stands either way.
func (s *Server) indicator(w http.ResponseWriter, r *http.Request, u *user) {
	v, err := s.exec(r, u, "show", "indicator", r.PathValue("kind"), r.URL.Query().Get("value"))
	if err != nil {
		s.fail(w, r, u, err)
		return
	}
	s.render(w, r, u, http.StatusOK, "indicator", "Threat Connect", v.(*cli.Indicator))
}
