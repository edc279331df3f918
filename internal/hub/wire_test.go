package hub

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"mailinspector/internal/hubapi"
)

// TestEveryAnswerIsItsWireType: each endpoint's answer decodes into its
// hubapi type with unknown fields refused, so that the one definition the
// appliance decodes with is the whole answer the hub gives; and the type
// carries what the hub said (a field left unset by a rename would decode
// to its zero value and pass unnoticed).
func TestEveryAnswerIsItsWireType(t *testing.T) {
	base, key, _ := startHub(t)
	ask := func(method, path, body string, out any) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, raw)
		}
	}
	bad := "http://cdn.badfiles.test/payload.exe"
	good := "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

	var st hubapi.Status
	ask("GET", hubapi.PathStatus, "", &st)
	if st.API != hubapi.Version || st.MLModel.Version == "" {
		t.Errorf("status %+v", st)
	}
	var rep hubapi.Results[hubapi.ReputationAnswer]
	ask("POST", hubapi.PathWebReputation, `{"`+hubapi.FieldURLs+`":["`+bad+`"]}`, &rep)
	if len(rep.Results) != 1 || rep.Results[0].Rating != "malicious" || rep.Results[0].URL == "" {
		t.Errorf("web reputation %+v", rep)
	}
	var ins hubapi.Results[hubapi.InspectionAnswer]
	ask("POST", hubapi.PathWebInspection, `{"`+hubapi.FieldURLs+`":["`+bad+`"]}`, &ins)
	if len(ins.Results) != 1 || !ins.Results[0].Found || ins.Results[0].Details[0].Feed == "" {
		t.Errorf("web inspection %+v", ins)
	}
	var kg hubapi.Results[hubapi.KnownGoodAnswer]
	ask("POST", hubapi.PathKnownGood, `{"`+hubapi.FieldHashes+`":["`+good+`"]}`, &kg)
	if len(kg.Results) != 1 || !kg.Results[0].KnownGood || kg.Results[0].SHA256 != good {
		t.Errorf("known good %+v", kg)
	}
	var dc hubapi.Results[hubapi.CensusAnswer]
	ask("POST", hubapi.PathDomainCensus, `{"`+hubapi.FieldNames+`":["badfiles.test"]}`, &dc)
	if len(dc.Results) != 1 || dc.Results[0].Kind != "domain" || dc.Results[0].Object != "badfiles.test" {
		t.Errorf("domain census %+v", dc)
	}
	var fc hubapi.Results[hubapi.CensusAnswer]
	ask("POST", hubapi.PathFileCensus, `{"`+hubapi.FieldHashes+`":["`+good+`"]}`, &fc)
	if len(fc.Results) != 1 || fc.Results[0].Kind != "file" {
		t.Errorf("file census %+v", fc)
	}
	var ml hubapi.Results[hubapi.ScoreAnswer]
	ask("POST", hubapi.PathMLScore, `{"items":[{"features":{"office_macros":1,"script_obfuscation":6}}]}`, &ml)
	if len(ml.Results) != 1 || ml.Results[0].Model == "" || ml.Results[0].Threshold == 0 {
		t.Errorf("ml %+v", ml)
	}
	var joint hubapi.JointAnswer
	ask("POST", hubapi.PathLookup, `{"csss":{"sha256":["`+good+`"]},"web-reputation":{"urls":["`+bad+`"]},"ml":{"items":[]}}`, &joint)
	if len(joint.KnownGood.Results) != 1 || !joint.KnownGood.Results[0].KnownGood || len(joint.WebReputation.Results) != 1 ||
		joint.ML.Results == nil || joint.ML.Error != nil {
		t.Errorf("joint %+v", joint)
	}
	var tc hubapi.ConnectAnswer
	ask("GET", hubapi.PathThreatConnect+"url?format=json&indicator="+bad, "", &tc)
	if !tc.Known || tc.Kind != "url" || len(tc.Facts) == 0 {
		t.Errorf("threat connect %+v", tc)
	}
	var fb hubapi.FeedbackAnswer
	ask("POST", hubapi.PathFeedback, `{"records":[{"kind":"domain","object":"badfiles.test","verdict":"high","at":"2026-01-02T03:04:05Z"}]}`, &fb)
	if fb.Accepted != 1 {
		t.Errorf("feedback %+v", fb)
	}
	var up hubapi.UpdatesAnswer
	ask("GET", hubapi.PathUpdates+"?current=1.0", "", &up)
	if up.Current != "1.0" || up.Bundles == nil {
		t.Errorf("updates %+v", up)
	}
	var lic hubapi.LicenceAnswer
	ask("GET", hubapi.PathLicence+"?appliance=MI-0A1B-2C3D-4E5F", "", &lic)
	if lic.Appliance != "appliance-1" || lic.State != "none" || lic.Code != "" || !strings.Contains(lic.IssuerKey, "PUBLIC KEY") {
		t.Errorf("licence %+v", lic)
	}
	var toc hubapi.TimeOfClickAnswer
	ask("GET", hubapi.PathTimeOfClick, "", &toc)
	if !toc.OK {
		t.Errorf("time of click %+v", toc)
	}
	var e hubapi.Error
	ask("POST", hubapi.PathWebReputation, `{"nothing":[]}`, &e)
	if e.Error.Code != "bad_request" || e.Error.Message == "" {
		t.Errorf("error %+v", e)
	}
}
