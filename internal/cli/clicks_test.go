package cli

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"
)

type pagesBackend struct {
	fakeBackend
	committed map[string]string
}

func (p *pagesBackend) ShowSettings(_ context.Context, prefix string) ([]SettingValue, error) {
	return []SettingValue{{Key: "click.page.high", Value: "<b>Stop.</b>"}, {Key: "click.page.medium"}, {Key: "click.page.low"},
		{Key: "click.page.unrated", Value: "Careful, <i>unrated</i>"}, {Key: "click.page.none"}}, nil
}

func (p *pagesBackend) CommitSettings(_ context.Context, changes map[string]string, _ time.Duration) (Done, error) {
	p.committed = changes
	return Done{OK: true}, nil
}

// TestClickPagesExportImport: the pages' texts go out as one JSON file
// and come back as one settings commit; a file naming no risk is refused.
func TestClickPagesExportImport(t *testing.T) {
	b := &pagesBackend{}
	ctx := WithCaller(context.Background(), Caller{Who: "admin", Via: "test", Role: RoleAdministrator})
	v, err := ExecWords(ctx, b, []string{"click", "pages", "export"})
	if err != nil {
		t.Fatal(err)
	}
	var pages map[string]string
	if err := json.Unmarshal(v.(json.RawMessage), &pages); err != nil || pages["high"] != "<b>Stop.</b>" || len(pages) != 5 {
		t.Fatalf("export %s %v", v, err)
	}
	if _, err := ExecWords(WithInput(ctx, string(v.(json.RawMessage))), b, []string{"click", "pages", "import"}); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"click.page.high": "<b>Stop.</b>", "click.page.medium": "", "click.page.low": "", "click.page.unrated": "Careful, <i>unrated</i>", "click.page.none": ""}
	if !reflect.DeepEqual(b.committed, want) {
		t.Fatalf("import committed %v", b.committed)
	}
	for _, bad := range []string{`{"critical": "x"}`, `{}`, `not json`} {
		if _, err := ExecWords(WithInput(ctx, bad), b, []string{"click", "pages", "import"}); !errors.Is(err, ErrUsage) {
			t.Errorf("import %s: %v", bad, err)
		}
	}
}
