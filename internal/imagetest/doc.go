// Package imagetest boots the appliance image under qemu (TCG) and drives
// it as an administrator would: the first-boot wizard over the serial
// console, SMTP and SSH through port forwards, the console menu, a
// reboot. The test is behind the build tag "image" because it needs a
// built image and takes minutes: make image-test.
package imagetest
