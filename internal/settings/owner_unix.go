//go:build unix

package settings

import (
	"fmt"
	"os"
	"syscall"
)

// ownLikeDataDir gives path the owner of the data directory when root
// writes it. The console (root) edits the settings of a daemon that runs
// as its own user: a root-owned 0640 file there is one the daemon cannot
// read on its next reload or start, and systemd's StateDirectory= only
// re-owns the tree when the directory itself has the wrong owner.
func ownLikeDataDir(dataDir, path string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	fi, err := os.Stat(dataDir)
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || st.Uid == 0 && st.Gid == 0 {
		return nil
	}
	if err := os.Lchown(path, int(st.Uid), int(st.Gid)); err != nil {
		return fmt.Errorf("settings: give %s to the data directory's owner: %w", path, err)
	}
	return nil
}
