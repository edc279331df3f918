package appliance

import (
	"context"
	"errors"
	"fmt"
	"time"

	"mailinspector/internal/cli"
	"mailinspector/internal/licence"
)

func (a *Appliance) licenceBook() *licence.Book {
	s := a.Settings
	return &licence.Book{Dir: a.DataDir, IssuerKey: s.Licence.IssuerKey,
		Trial: time.Duration(s.Licence.TrialDays) * 24 * time.Hour, GracePeriod: time.Duration(s.Licence.GraceDays) * 24 * time.Hour}
}

// Licence is show licence.
func (a *Appliance) Licence(ctx context.Context) (*cli.Licence, error) {
	b := a.updates.Book
	st := b.State()
	chk := b.LastCheck()
	out := &cli.Licence{State: st.Name, ApplianceID: b.ID(), Until: dayText(st.Until), Updates: st.Updates,
		UpdatesStopped: st.UpdatesStopped, Warning: st.Warning, Loud: st.Loud, TrialStarted: dayText(b.FirstStart()),
		LastCheck: timeText(chk.LastCheck), LastSuccess: timeText(chk.LastSuccess), LastError: chk.LastError, Hub: chk.Hub,
		GraceDays: a.Settings.Licence.GraceDays}
	if l, activated := b.Licence(); l != nil {
		out.Edition, out.Seats, out.Serial = l.Edition, l.Seats, l.Serial
		out.Issued, out.Expires, out.Activated = dayText(l.Issued), dayText(l.Expires), timeText(activated)
	}
	return out, nil
}

func dayText(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02")
}

// LicenceActivate is licence activate CODE.
func (a *Appliance) LicenceActivate(ctx context.Context, code string) (cli.Done, error) {
	l, err := a.updates.Book.Activate(code, "activate")
	if err != nil {
		return cli.Done{}, err
	}
	st := a.updates.Book.State()
	return cli.Done{OK: true, Message: fmt.Sprintf("licence %s activated: %s edition, %d seats, expires %s; state %s",
		l.Serial, l.Edition, l.Seats, dayText(l.Expires), st.Name)}, nil
}

// LicenceCheck is licence check: the scheduled online check, now.
func (a *Appliance) LicenceCheck(ctx context.Context) (cli.Done, error) {
	if err := a.updates.Licence(); err != nil {
		return cli.Done{}, fmt.Errorf("licence check failed, the licence in place stands: %w", err)
	}
	chk := a.updates.Book.LastCheck()
	if chk.Hub == "" {
		return cli.Done{}, errors.New("licence check: no answer recorded")
	}
	return cli.Done{OK: true, Message: chk.Hub + "; state " + a.updates.Book.State().Name}, nil
}
