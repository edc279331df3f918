//go:build !linux

package spool

import (
	"errors"
	"os"
)

// Elsewhere the spool always uses named temp files (see anon_linux.go).

type linkMode int

const (
	linkNone linkMode = iota
	linkEmptyPath
	linkProcFD
)

func openAnon(string) (*os.File, error)      { return nil, errors.ErrUnsupported }
func (linkMode) link(*os.File, string) error { return errors.ErrUnsupported }
func probeLink(string) linkMode              { return linkNone }
