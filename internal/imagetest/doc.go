// Package imagetest boots the appliance image under qemu (TCG) and drives
// it as an administrator would: the first-boot wizard over the serial
// console, SMTP and SSH through port forwards, the console menu, a
// reboot; boots it with UEFI firmware; reads the OVA as importers do and
// imports it with virt-v2v. The tests are behind the build tag "image"
// because they need a built image and take minutes: make image-test.
//
// Each guest runs its virtual CPUs in one host thread (TCG,
// thread=single), so the tests run in parallel, as many at a time as go
// test's -parallel allows (GOMAXPROCS by default: two on a two-core
// machine). There the suite takes about as long as its longest test and
// the one it shares a core with; the longest is virt-v2v's conversion,
// which rebuilds the guest's initramfs under TCG.
package imagetest
