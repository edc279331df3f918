# Mail Inspector. `make help` lists the targets.
SHELL := /bin/bash
VERSION := $(shell cat VERSION)
GO ?= go
LDFLAGS := -s -w -X mailinspector/appliance.Version=$(VERSION)
RUN_DIR ?= $(CURDIR)/run-data
RUN_SMTP ?= 127.0.0.1:2525

.PHONY: help build run test test-setup test-go docs console-screenshots web-assets fuzz bench bench-go bench-sut bench-peer vet clean image image-test image-setup image-boot-test ova agent sandbox-guest sandbox-test
IMAGE_DIR ?= build/image

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

build: ## build bin/mailinspector
	CGO_ENABLED=1 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/mailinspector ./cmd/mailinspector

run: build ## run the appliance on a fresh data directory (run-data/) with a private clamd, the web console on 127.0.0.1:8443 and the click service on 127.0.0.1:8025 (RUN_HUB=1: and a local hub; ARGS="--set K=V …" adds settings)
	RUN_DIR=$(RUN_DIR) RUN_SMTP=$(RUN_SMTP) scripts/run.sh $(ARGS)

test-setup: ## install what the tests need (apt-get), when missing
	scripts/test-setup.sh

test: test-setup vet ## install what the tests need, then run every test
	MAILINSPECTOR_REQUIRE_TOOLS=1 $(GO) test -race -count=1 -timeout 30m ./...
	cd third_party/go-smtp && $(GO) test -race -count=1 ./... # our patched copy: upstream's tests and ours
	cd third_party/go-libvirt && $(GO) test -race -count=1 ./... # likewise
	cd third_party/sevenzip && $(GO) test -race -count=1 ./... # our patch's tests (PATCHES.md)

web-assets: ## fetch the console's front-end libraries from npm (package-lock.json) into internal/web/static/
	scripts/web-assets.sh

console-screenshots: ## the web console's pages as pictures in docs/console/ (chromium)
	MAILINSPECTOR_SCREENSHOTS=1 $(GO) test -count=1 -run 'TestWebConsole|TestWebDashboardFollowsAnOutage|TestWebDashboardFigures|TestWebThreatConnect|TestWebPoliciesEdit|TestWebLists|TestWebQuarantinePreviewAndRelease|TestTimeOfClickInABrowser' ./appliance

docs: ## regenerate docs/settings.md from the settings keys table
	MAILINSPECTOR_UPDATE_DOCS=1 $(GO) test -count=1 -run TestSettingsDocIsCurrent ./internal/settings

test-go: ## run the Go tests only (tests needing a missing tool are skipped)
	$(GO) test ./...
	cd third_party/go-smtp && $(GO) test ./...
	cd third_party/go-libvirt && $(GO) test ./...
	cd third_party/sevenzip && $(GO) test ./...

vet: ## go vet, also the slow suites behind build tags
	$(GO) vet ./...
	cd third_party/go-smtp && $(GO) vet .
	cd third_party/go-libvirt && $(GO) vet .
	cd third_party/sevenzip && $(GO) vet ./...
	$(GO) vet -tags image ./internal/imagetest
	$(GO) vet -tags sandbox ./appliance
	$(GO) vet -tags benchspine ./appliance # the experiment build of scripts/bench-sut.sh SPINE=1
	GOOS=windows CGO_ENABLED=0 $(GO) build -o /dev/null ./cmd/mailinspector # the Windows guest agent still builds

fuzz: ## run each fuzz target for FUZZTIME (default 30s)
	scripts/fuzz.sh $${FUZZTIME:-30s}

bench: bench-go bench-sut ## Go benchmarks, then the shared load harness against bin/mailinspector

bench-go: ## Go benchmarks
	$(GO) test -run '^$$' -bench . -benchmem ./...

bench-sut: build ## the shared harness (../shared/bench/run-sut.sh) against bin/mailinspector
	scripts/bench-sut.sh

bench-peer: ## the shared harness against the peer (Postfix, Postfix + Rspamd + ClamAV)
	../shared/bench/run-peer.sh

image-setup: ## install what the image and its tests need (mmdebstrap, qemu, packer, OVMF, virt-v2v …), when missing
	WITH_PACKER=1 scripts/image-setup.sh

image: image-setup build ## the appliance: $(IMAGE_DIR)/mailinspector-VERSION.qcow2 and .ova, built through Packer (~9 min)
	mkdir -p $(IMAGE_DIR) && rm -f $(IMAGE_DIR)/build_key $(IMAGE_DIR)/build_key.pub
	ssh-keygen -q -t ed25519 -N "" -C mailinspector-build -f $(IMAGE_DIR)/build_key
	BUILD_KEY=$(IMAGE_DIR)/build_key.pub scripts/image-rootfs.sh $(IMAGE_DIR)/rootfs.tar
	scripts/image-disk.sh $(IMAGE_DIR)/rootfs.tar $(IMAGE_DIR)/base.qcow2
	scripts/image-packer.sh $(IMAGE_DIR)/base.qcow2 $(IMAGE_DIR)/build_key $(IMAGE_DIR)/mailinspector-$(VERSION).qcow2 $(VERSION)
	scripts/image-ova.sh $(IMAGE_DIR)/mailinspector-$(VERSION).qcow2 $(IMAGE_DIR)/mailinspector-$(VERSION).ova $(VERSION)

ova: ## the OVA from an already built qcow2
	scripts/image-ova.sh $(IMAGE_DIR)/mailinspector-$(VERSION).qcow2 $(IMAGE_DIR)/mailinspector-$(VERSION).ova $(VERSION)

image-test: image ## build the image; boot it under qemu TCG with SeaBIOS and OVMF, drive it as an administrator, import the OVA with virt-v2v and boot that
	MAILINSPECTOR_IMAGE=$(CURDIR)/$(IMAGE_DIR)/mailinspector-$(VERSION).qcow2 \
	MAILINSPECTOR_OVA=$(CURDIR)/$(IMAGE_DIR)/mailinspector-$(VERSION).ova \
	MAILINSPECTOR_BUILD_KEY=$(CURDIR)/$(IMAGE_DIR)/build_key \
	$(GO) test -tags image -count=1 -v -timeout 40m ./internal/imagetest

image-boot-test: ## boot the built image and wait for the first-boot wizard on ttyS0 (quick check)
	scripts/image-boot-test.sh $(IMAGE_DIR)/mailinspector-$(VERSION).qcow2

agent: ## the static guest agent for sandbox images: bin/mailinspector-agent and, for Windows guests, bin/mailinspector-agent.exe
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/mailinspector-agent ./cmd/mailinspector
	GOOS=windows CGO_ENABLED=0 $(GO) build -trimpath -o bin/mailinspector-agent.exe ./cmd/mailinspector

sandbox-guest: image-setup agent ## the Linux sandbox guest image, checked by a Packer boot: build/sandbox/guest.qcow2 (~5 min)
	scripts/sandbox-guest-rootfs.sh build/sandbox/guest-rootfs.tar
	BOOT=syslinux DATA_MB=0 scripts/image-disk.sh build/sandbox/guest-rootfs.tar build/sandbox/guest-base.qcow2
	scripts/sandbox-guest-packer.sh build/sandbox/guest-base.qcow2 build/sandbox/guest.qcow2

sandbox-test: sandbox-guest ## build the guest, detonate samples in it under qemu TCG through the mail flow (root)
	MAILINSPECTOR_SANDBOX_GUEST=$(CURDIR)/build/sandbox/guest.qcow2 MAILINSPECTOR_REQUIRE_TOOLS=1 \
	$(GO) test -tags sandbox -count=1 -v -timeout 40m -run TestSandboxTCG ./appliance

clean: ## remove build output and run-data/
	rm -rf bin run-data build
