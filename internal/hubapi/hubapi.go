// Package hubapi is the hub's wire protocol (docs/hub-api.md): its version,
// its paths, the batch fields of the per-object services, and one
// definition of each request and answer. The hub server (internal/hub)
// answers with these types and the appliance (its analysis stages, the
// joint request, the scheduled checks) decodes them; a field added here
// reaches both sides at once.
package hubapi

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"mailinspector/internal/mlfeatures"
)

// Version is the version in every path.
const Version = "v1"

// Paths, each under /v1. The per-object services answer GET ?PARAM=ITEM
// with one answer and POST {FIELD: [ITEM, …]} with Results in the same
// order.
const (
	PathStatus        = "/" + Version + "/status"
	PathKnownGood     = "/" + Version + "/csss"
	PathFileCensus    = "/" + Version + "/file-census"
	PathDomainCensus  = "/" + Version + "/domain-census"
	PathWebReputation = "/" + Version + "/web-reputation"
	PathWebInspection = "/" + Version + "/web-inspection"
	PathMLScore       = "/" + Version + "/ml/score"
	// PathLookup is the joint request: several services' batch requests
	// in one round trip (JointRequest, answered by JointAnswer).
	PathLookup = "/" + Version + "/lookup"
	// PathThreatConnect is followed by an indicator kind: hash, url,
	// domain, ip (?indicator=…; &format=json for ConnectAnswer).
	PathThreatConnect = "/" + Version + "/threat-connect/"
	PathFeedback      = "/" + Version + "/feedback"
	PathUpdates       = "/" + Version + "/updates"
	PathBundles       = "/" + Version + "/updates/bundles/" // + a BundleRef's name
	PathLicence       = "/" + Version + "/licence"
	PathTimeOfClick   = "/" + Version + "/time-of-click"
)

// Batch fields of the per-object services (POST {FIELD: [ITEM, …]}).
const (
	FieldHashes = "sha256" // known-good, file census
	FieldURLs   = "urls"   // web reputation, web inspection
	FieldNames  = "names"  // domain census
)

// MaxBatch is the most items one batch request may carry.
const MaxBatch = 100

// Results is a batch answer: one answer per item, in the order asked.
type Results[T any] struct {
	Results []T `json:"results"`
}

// Error is the body of every error answer.
type Error struct {
	Error ErrorDetail `json:"error"`
}

// Status is GET /v1/status.
type Status struct {
	API             string   `json:"api"`
	Version         string   `json:"version"`
	Feeds           any      `json:"feeds"`
	FeedbackRecords int      `json:"feedback_records"`
	MLModel         ModelRef `json:"ml_model"`
}

// ModelRef names the ML model the hub scores with.
type ModelRef struct {
	Version string `json:"version"`
	Samples int    `json:"samples"`
}

// KnownGoodAnswer is known-good's (csss) answer for one file.
type KnownGoodAnswer struct {
	SHA256    string `json:"sha256"`
	KnownGood bool   `json:"known_good"`
	Name      string `json:"name,omitempty"`
}

// CensusAnswer is the domain and file census's answer for one object.
type CensusAnswer struct {
	Kind       string     `json:"kind"`
	Object     string     `json:"object"`
	Appliances int        `json:"appliances"`
	Sightings  int        `json:"sightings"`
	FirstSeen  *time.Time `json:"first_seen,omitempty"`
	AgeDays    *int       `json:"age_days,omitempty"`
	// Malware is what the MalwareBazaar feed says of a file (feed,
	// signature, file_name).
	Malware map[string]string `json:"malware,omitempty"`
}

// Age is AgeDays, 0 when the object was never seen.
func (a CensusAnswer) Age() int {
	if a.AgeDays == nil {
		return 0
	}
	return *a.AgeDays
}

// ReputationAnswer is web-reputation's answer for one URL.
type ReputationAnswer struct {
	URL     string `json:"url"`
	Rating  string `json:"rating"` // phishing, malicious, suspicious, unrated
	Score   int    `json:"score"`
	Matches int    `json:"matches"`
}

// InspectionAnswer is web-inspection's answer for one URL.
type InspectionAnswer struct {
	URL     string     `json:"url"`
	Found   bool       `json:"found"`
	Details []URLMatch `json:"details"`
}

// URLMatch is a feed row that matched a URL.
type URLMatch struct {
	Feed      string `json:"feed"`
	Match     string `json:"match"` // url, host, domain, network
	Threat    string `json:"threat"`
	Tags      string `json:"tags,omitempty"`
	FirstSeen int64  `json:"first_seen,omitempty"`
	Ref       string `json:"ref,omitempty"`
}

// MLItem is one file's static features to score.
type MLItem struct {
	Features mlfeatures.Vector `json:"features"`
}

// MLRequest is POST /v1/ml/score: one file's features, or several items
// (answered as Results[ScoreAnswer]).
type MLRequest struct {
	Features mlfeatures.Vector `json:"features,omitempty"`
	Items    []MLItem          `json:"items,omitempty"`
}

// ScoreAnswer is ml's answer for one file.
type ScoreAnswer struct {
	Score     float64 `json:"score"`
	Malicious bool    `json:"malicious"`
	Threshold float64 `json:"threshold"`
	Model     string  `json:"model"`
}

// ConnectAnswer is a Threat Connect detail page as JSON.
type ConnectAnswer struct {
	Kind      string   `json:"kind"`
	Indicator string   `json:"indicator"`
	Known     bool     `json:"known"`
	Facts     []string `json:"facts"`
}

// FeedbackRecord is one Smart Feedback record.
type FeedbackRecord struct {
	Kind    string    `json:"kind"` // file, domain, ip, url
	Object  string    `json:"object"`
	Verdict string    `json:"verdict,omitempty"`
	At      time.Time `json:"at"`
}

// FeedbackRequest is POST /v1/feedback.
type FeedbackRequest struct {
	Records []FeedbackRecord `json:"records"`
}

// FeedbackAnswer says how many records the hub kept.
type FeedbackAnswer struct {
	Accepted int `json:"accepted"`
}

// UpdatesAnswer is GET /v1/updates?current=VERSION: the signed bundles
// the hub offers (the newest of each kind) and its keyring document.
type UpdatesAnswer struct {
	Current    string      `json:"current"`
	Components any         `json:"components"` // the hub's feeds
	Bundles    []BundleRef `json:"bundles"`
	// Keyring is the roots' signed keyring document (internal/updates/
	// signed.SignedKeyring), null when the hub publishes none.
	Keyring json.RawMessage `json:"keyring,omitempty"`
}

// BundleRef is one bundle the hub offers, fetched from
// PathBundles + Name.
type BundleRef struct {
	Kind    string `json:"kind"`
	Channel string `json:"channel"`
	Version uint64 `json:"version"`
	Name    string `json:"name"`
	Size    int64  `json:"size"`
	SHA256  string `json:"sha256"`
}

// LicenceAnswer is GET /v1/licence?appliance=ID: the newest activation
// code the hub issued for the appliance id ("" when none) and the key it
// signs codes with (PEM), which the appliance pins at its first check.
type LicenceAnswer struct {
	Appliance string    `json:"appliance"` // the name of the caller's API key
	ID        string    `json:"id"`
	Code      string    `json:"code"`
	IssuerKey string    `json:"issuer_key"`
	State     string    `json:"state"` // active, expired, none: the code's, as the hub sees it
	Expires   time.Time `json:"expires,omitzero"`
}

// TimeOfClickAnswer is GET /v1/time-of-click.
type TimeOfClickAnswer struct {
	OK bool `json:"ok"`
}

// ErrorDetail is what an error answer says.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Part is one service's share of a joint answer: its results in the order
// asked ({"results": […]}), or its error ({"error": {…}}, as Error): one
// service's bad part does not fail the others.
type Part[T any] struct {
	Results []T          `json:"results"`
	Error   *ErrorDetail `json:"error,omitempty"`
}

// JointRequest is POST /v1/lookup: by service name (csss, file-census,
// ml, web-reputation, web-inspection, domain-census), the body that
// service's own batch endpoint takes.
type JointRequest map[string]any

// JointAnswer is the hub's answer to a joint request, each part decoded
// straight into its service's answer type (decoding every result twice,
// through json.RawMessage, was a visible part of a message's cost).
type JointAnswer struct {
	KnownGood     Part[KnownGoodAnswer]  `json:"csss"`
	FileCensus    Part[CensusAnswer]     `json:"file-census"`
	ML            Part[ScoreAnswer]      `json:"ml"`
	WebReputation Part[ReputationAnswer] `json:"web-reputation"`
	WebInspection Part[InspectionAnswer] `json:"web-inspection"`
	DomainCensus  Part[CensusAnswer]     `json:"domain-census"`
}

// PathPage is the hub's public detail page of an indicator (kind: hash,
// url, domain, ip), for a person's browser: no API key travels, the link
// is signed by the appliance for a limited time (PageLink).
const PathPage = "/tc/"

// pageSecret is what an appliance and the hub share for page links: the
// SHA-256 of the appliance's API key (the hub keeps only that).
func pageSecret(apiKey string) []byte {
	h := sha256.Sum256([]byte(apiKey))
	return h[:]
}

// pageMAC is the signature of a page link.
func pageMAC(secret []byte, kind, indicator string, exp int64) string {
	m := hmac.New(sha256.New, secret)
	fmt.Fprintf(m, "%s\n%s\n%d", kind, indicator, exp)
	return hex.EncodeToString(m.Sum(nil))
}

// PageKeyIDLen is how many hex digits of the secret name the key in a
// link.
const PageKeyIDLen = 16

// PageLink is the address of the hub's page of an indicator, valid until
// exp, signed with the appliance's API key (which is not in it).
func PageLink(base, apiKey, kind, indicator string, exp time.Time) string {
	secret := pageSecret(apiKey)
	q := url.Values{"indicator": {indicator}, "exp": {strconv.FormatInt(exp.Unix(), 10)},
		"k": {hex.EncodeToString(secret)[:PageKeyIDLen]}, "sig": {pageMAC(secret, kind, indicator, exp.Unix())}}
	return base + PathPage + kind + "?" + q.Encode()
}

// VerifyPage checks a page link's signature against a key's secret (its
// SHA-256, hex, as the hub stores it).
func VerifyPage(secretHex, kind, indicator string, exp int64, sig string) bool {
	secret, err := hex.DecodeString(secretHex)
	if err != nil {
		return false
	}
	return hmac.Equal([]byte(pageMAC(secret, kind, indicator, exp)), []byte(sig))
}
