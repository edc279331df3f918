package web

import (
	"net/http"

	"mailinspector/internal/cli"
)

// dashboard: the appliance's state and each service's, the first thing an
// administrator looks at; the figures of a period below (dashboardStats).
func (s *Server) dashboard(w http.ResponseWriter, r *http.Request, u *user) {
	st, err := s.status(r, u)
	if err != nil {
		s.fail(w, r, u, err)
		return
	}
	svcs, err := s.exec(r, u, "show", "services")
	if err != nil {
		s.fail(w, r, u, err)
		return
	}
	va, err := s.exec(r, u, "show", "sandbox")
	if err != nil {
		s.fail(w, r, u, err)
		return
	}
	data := struct {
		Status   *cli.Status
		Services []cli.ServiceStatus
		Sandbox  *cli.Sandbox
		Stats    *statsView
	}{st, svcs.([]cli.ServiceStatus), va.(*cli.Sandbox), nil}
	if r.URL.Path == "/dashboard/live" {
		// htmx's refresh: the widgets only.
		s.renderTemplate(w, r, u, http.StatusOK, "dashboard", "live", "Dashboard", data)
		return
	}
	if data.Stats, err = s.stats(r, u); err != nil {
		s.fail(w, r, u, err)
		return
	}
	s.render(w, r, u, http.StatusOK, "dashboard", "Dashboard", data)
}

// statsView is show stats as the dashboard draws it: the chart's series
// (for uPlot, from a JSON block the page carries) and the top lists with
// the largest count, which their bars are measured against.
type statsView struct {
	*cli.Stats
	Periods []string
	Chart   chartData
	Total   cli.StatsBucket
	Max     map[string]int
}

type chartData struct {
	T       []int64 `json:"t"`
	High    []int   `json:"high"`
	Medium  []int   `json:"medium"`
	Low     []int   `json:"low"`
	Unrated []int   `json:"unrated"`
}

// stats is show stats for the period the query names (24h by default).
func (s *Server) stats(r *http.Request, u *user) (*statsView, error) {
	period := r.URL.Query().Get("period")
	if period == "" {
		period = "24h"
	}
	v, err := s.exec(r, u, "show", "stats", period)
	if err != nil {
		return nil, err
	}
	st := v.(*cli.Stats)
	sv := &statsView{Stats: st, Max: map[string]int{}}
	for _, p := range cli.StatsPeriods {
		sv.Periods = append(sv.Periods, p.Name)
	}
	for _, b := range st.Buckets {
		sv.Chart.T = append(sv.Chart.T, b.Unix)
		sv.Chart.High, sv.Chart.Medium = append(sv.Chart.High, b.High), append(sv.Chart.Medium, b.Medium)
		sv.Chart.Low, sv.Chart.Unrated = append(sv.Chart.Low, b.Low), append(sv.Chart.Unrated, b.Unrated)
		sv.Total.High, sv.Total.Medium, sv.Total.Low, sv.Total.Unrated = sv.Total.High+b.High, sv.Total.Medium+b.Medium,
			sv.Total.Low+b.Low, sv.Total.Unrated+b.Unrated
	}
	for name, l := range map[string][]cli.Count{"threats": st.Threats, "recipients": st.Recipients, "sources": st.Sources} {
		if len(l) > 0 {
			sv.Max[name] = l[0].N
		}
	}
	return sv, nil
}

// dashboardStats is the figures' part alone, for its refresh.
func (s *Server) dashboardStats(w http.ResponseWriter, r *http.Request, u *user) {
	sv, err := s.stats(r, u)
	if err != nil {
		s.fail(w, r, u, err)
		return
	}
	s.renderTemplate(w, r, u, http.StatusOK, "dashboard", "stats", "Dashboard", struct{ Stats *statsView }{sv})
}
