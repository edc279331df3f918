package sandbox

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"strings"

	"github.com/digitalocean/go-libvirt"
)

// An instance's lifecycle on libvirt: its domain defined from the image's
// template, its overlay disk, the ready snapshot it is reverted to, and
// its teardown.

// lookup finds a domain by name.
func (p *Pool) lookup(ctx context.Context, name string) (libvirt.Domain, error) {
	return call(ctx, p.conn, "look up "+name, func(l *libvirt.Libvirt) (libvirt.Domain, error) {
		return l.DomainLookupByName(name)
	})
}

// templateMark is how an instance's domain carries the hash of the XML it
// was defined from: a domain from another template (the administrator
// changed it, or a libvirt host kept an old one) is defined again.
const templateMark = "urn:mailinspector:sandbox"

// render is the instance's domain XML, marked with its own hash.
func (p *Pool) render(in *instance, disk string) (string, string, error) {
	var xml bytes.Buffer
	if err := in.img.tmpl.Execute(&xml, map[string]any{"Name": in.domain, "Index": in.index,
		"MAC":      fmt.Sprintf("52:54:00:4d:%02x:%02x", len(in.img.Name)&0xff, in.index&0xff),
		"AgentKey": hex.EncodeToString(in.agent.Key), "Agent": in.agent.Addr, "Disk": disk, "SMTPPort": cmp.Or(in.img.SMTPPort, 25)}); err != nil {
		return "", "", fmt.Errorf("domain template: %w", err)
	}
	sum := sha256.Sum256(xml.Bytes())
	mark := hex.EncodeToString(sum[:16])
	x := xml.String()
	i := strings.LastIndex(x, "</domain>")
	if i < 0 {
		return "", "", errors.New("domain template: no </domain>")
	}
	x = x[:i] + "  <metadata><mi:template xmlns:mi=\"" + templateMark + "\">" + mark + "</mi:template></metadata>\n" + x[i:]
	return x, mark, nil
}

// prepare makes sure the instance's domain and its ready snapshot exist:
// missing ones (a new pool, a libvirtd that lost its state) are made by
// booting the domain, waiting for the agent and snapshotting it running.
// A domain defined from another template is undefined first, with its
// snapshots' metadata.
func (p *Pool) prepare(in *instance) error {
	ctx := p.ctx
	disk, err := p.overlay(ctx, in, false)
	if err != nil {
		return err
	}
	xml, mark, err := p.render(in, disk)
	if err != nil {
		return err
	}
	d, err := p.lookup(ctx, in.domain)
	define := libvirt.IsNotFound(err)
	if err == nil {
		cur, err := call(ctx, p.conn, "read "+in.domain, func(l *libvirt.Libvirt) (string, error) { return l.DomainGetXMLDesc(d, 0) })
		if err != nil {
			return err
		}
		if !strings.Contains(cur, mark) {
			p.destroy(in, d)
			if err := p.conn.Call(ctx, "undefine "+in.domain, func(l *libvirt.Libvirt) error {
				return l.DomainUndefineFlags(d, libvirt.DomainUndefineSnapshotsMetadata)
			}); err != nil {
				return err
			}
			define = true
		}
	} else if !define {
		return err
	}
	if define {
		// A new domain starts from a fresh overlay: an old one may hold
		// the snapshot of another guest image.
		if _, err := p.overlay(ctx, in, true); err != nil {
			return err
		}
		d, err = call(ctx, p.conn, "define "+in.domain, func(l *libvirt.Libvirt) (libvirt.Domain, error) {
			return l.DomainDefineXML(xml)
		})
		if err != nil {
			return err
		}
	}
	err = p.conn.Call(ctx, "look up snapshot of "+in.domain, func(l *libvirt.Libvirt) error {
		_, err := l.DomainSnapshotLookupByName(d, ReadySnapshot, 0)
		return err
	})
	if err == nil {
		return nil
	}
	var le libvirt.Error
	if !errors.As(err, &le) || le.Code != uint32(libvirt.ErrNoDomainSnapshot) {
		return err
	}
	// A domain left running (an appliance that stopped mid-run) is
	// started afresh so the snapshot shows a clean boot.
	if err := p.destroy(in, d); err != nil {
		return err
	}
	if err := p.conn.Call(ctx, "start "+in.domain, func(l *libvirt.Libvirt) error { return l.DomainCreate(d) }); err != nil {
		return err
	}
	rctx, cancel := context.WithTimeout(ctx, p.opts.ReadyTimeout)
	err = in.agent.WaitReady(rctx)
	cancel()
	if err != nil {
		p.destroy(in, d)
		return err
	}
	err = p.conn.Call(ctx, "snapshot "+in.domain, func(l *libvirt.Libvirt) error {
		_, err := l.DomainSnapshotCreateXML(d, "<domainsnapshot><name>"+ReadySnapshot+"</name>"+
			"<description>Mail Inspector: booted, agent ready, nothing run</description></domainsnapshot>", 0)
		return err
	})
	if err == nil && p.opts.Pause {
		// Paused right at the snapshot: the first revert is as quick as
		// the later ones.
		if perr := p.pause(in, d); perr == nil {
			return nil
		}
	}
	p.destroy(in, d)
	return err
}

// overlay makes sure the instance's overlay volume exists (fresh: made
// again) and returns its path; "" when the image has no BaseImage.
func (p *Pool) overlay(ctx context.Context, in *instance, fresh bool) (string, error) {
	im := in.img
	if im.BaseImage == "" {
		return "", nil
	}
	name := in.domain + ".qcow2"
	return call(ctx, p.conn, "overlay "+name, func(l *libvirt.Libvirt) (string, error) {
		sp, err := l.StoragePoolLookupByName(im.StoragePool)
		if err != nil {
			return "", fmt.Errorf("storage pool %q: %w", im.StoragePool, err)
		}
		l.StoragePoolRefresh(sp, 0)
		vol, err := l.StorageVolLookupByName(sp, name)
		if err == nil && fresh {
			if err := l.StorageVolDelete(vol, 0); err != nil {
				return "", err
			}
			err = libvirt.Error{Code: uint32(libvirt.ErrNoStorageVol)}
		}
		var le libvirt.Error
		if errors.As(err, &le) && le.Code == uint32(libvirt.ErrNoStorageVol) {
			// Capacity 0: the backing image's (measured with libvirt 9's
			// qemu driver; its test driver wants the element).
			vol, err = l.StorageVolCreateXML(sp, "<volume><name>"+name+"</name><capacity unit='bytes'>0</capacity>"+
				"<target><format type='qcow2'/></target>"+
				"<backingStore><path>"+xmlEscape(im.BaseImage)+"</path><format type='qcow2'/></backingStore></volume>", 0)
		}
		if err != nil {
			return "", err
		}
		return l.StorageVolGetPath(vol)
	})
}

func xmlEscape(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

// destroy powers the instance off; "not running" is not an error.
func (p *Pool) destroy(in *instance, d libvirt.Domain) error {
	err := p.conn.Call(context.WithoutCancel(p.ctx), "destroy "+in.domain, func(l *libvirt.Libvirt) error { return l.DomainDestroy(d) })
	var le libvirt.Error
	if errors.As(err, &le) && le.Code == uint32(libvirt.ErrOperationInvalid) {
		return nil
	}
	return err
}

// pause suspends the instance after a good run (Options.Pause).
func (p *Pool) pause(in *instance, d libvirt.Domain) error {
	return p.conn.Call(context.WithoutCancel(p.ctx), "suspend "+in.domain, func(l *libvirt.Libvirt) error { return l.DomainSuspend(d) })
}
