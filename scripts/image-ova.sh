#!/usr/bin/env bash
# Step 4 of the image: the OVA for VMware and VirtualBox from the qcow2.
#   scripts/image-ova.sh IMAGE.qcow2 OUT.ova [VERSION]
# A streamOptimized VMDK (LSI Logic SCSI), an OVF 1.0 descriptor with the
# product section and version, a SHA-256 manifest, in a tar with the .ovf
# first (as the OVF specification asks).
# The descriptor declares what importers read:
# - the guest OS: CIM type 96 (Debian 64-bit) and VMware's debian12_64Guest
#   (added in vSphere 8 and Workstation 17; older releases were not tried
#   here: README, "Import it");
# - hardware version vmx-14 (ESXi 6.7 to 8.x, Workstation 15 and later);
# - UEFI firmware (vmw:Config firmware=efi, read by vSphere, Workstation and
#   virt-v2v; ovf:required="false" so that other importers may ignore it).
#   The disk boots with BIOS as well (VirtualBox ignores the key and
#   starts it with BIOS).
set -euo pipefail
IMG="$1" OUT="$2" VERSION="${3:-$(cat "$(dirname "$0")/../VERSION")}"
name="mailinspector-$VERSION"
work="$(mktemp -d /var/tmp/mailinspector-ova.XXXXXX)"
trap 'rm -rf "$work"' EXIT
qemu-img convert -O vmdk -o subformat=streamOptimized,adapter_type=lsilogic "$IMG" "$work/$name-disk1.vmdk"
capacity=$(qemu-img info --output=json "$IMG" | sed -n 's/.*"virtual-size": \([0-9]*\).*/\1/p' | head -1)
vmdk_size=$(stat -c %s "$work/$name-disk1.vmdk")
cat > "$work/$name.ovf" <<OVF
<?xml version="1.0" encoding="UTF-8"?>
<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1"
  xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1"
  xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData"
  xmlns:vssd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData"
  xmlns:vmw="http://www.vmware.com/schema/ovf"
  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <References>
    <File ovf:id="file1" ovf:href="$name-disk1.vmdk" ovf:size="$vmdk_size"/>
  </References>
  <DiskSection>
    <Info>Virtual disks</Info>
    <Disk ovf:diskId="vmdisk1" ovf:fileRef="file1" ovf:capacity="$capacity" ovf:capacityAllocationUnits="byte"
      ovf:format="http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized"/>
  </DiskSection>
  <NetworkSection>
    <Info>Logical networks</Info>
    <Network ovf:name="Management"><Description>Management and mail network</Description></Network>
  </NetworkSection>
  <VirtualSystem ovf:id="$name">
    <Info>Mail Inspector email-threat inspection appliance</Info>
    <Name>Mail Inspector $VERSION</Name>
    <ProductSection>
      <Info>Product</Info>
      <Product>Mail Inspector</Product>
      <Vendor>Mail Inspector project</Vendor>
      <Version>$VERSION</Version>
      <FullVersion>$VERSION</FullVersion>
    </ProductSection>
    <OperatingSystemSection ovf:id="96" vmw:osType="debian12_64Guest">
      <Info>Guest operating system</Info>
      <Description>Debian GNU/Linux 12 (64-bit)</Description>
    </OperatingSystemSection>
    <VirtualHardwareSection>
      <Info>Virtual hardware</Info>
      <System>
        <vssd:ElementName>Virtual Hardware Family</vssd:ElementName>
        <vssd:InstanceID>0</vssd:InstanceID>
        <vssd:VirtualSystemIdentifier>$name</vssd:VirtualSystemIdentifier>
        <vssd:VirtualSystemType>vmx-14</vssd:VirtualSystemType>
      </System>
      <Item>
        <rasd:AllocationUnits>hertz * 10^6</rasd:AllocationUnits>
        <rasd:Description>Number of virtual CPUs</rasd:Description>
        <rasd:ElementName>2 virtual CPUs</rasd:ElementName>
        <rasd:InstanceID>1</rasd:InstanceID>
        <rasd:ResourceType>3</rasd:ResourceType>
        <rasd:VirtualQuantity>2</rasd:VirtualQuantity>
      </Item>
      <Item>
        <rasd:AllocationUnits>byte * 2^20</rasd:AllocationUnits>
        <rasd:Description>Memory size</rasd:Description>
        <rasd:ElementName>4096 MB of memory</rasd:ElementName>
        <rasd:InstanceID>2</rasd:InstanceID>
        <rasd:ResourceType>4</rasd:ResourceType>
        <rasd:VirtualQuantity>4096</rasd:VirtualQuantity>
      </Item>
      <Item>
        <rasd:Description>SCSI controller</rasd:Description>
        <rasd:ElementName>SCSI controller 0</rasd:ElementName>
        <rasd:InstanceID>3</rasd:InstanceID>
        <rasd:ResourceSubType>lsilogic</rasd:ResourceSubType>
        <rasd:ResourceType>6</rasd:ResourceType>
      </Item>
      <Item>
        <rasd:AddressOnParent>0</rasd:AddressOnParent>
        <rasd:ElementName>Hard disk 1</rasd:ElementName>
        <rasd:HostResource>ovf:/disk/vmdisk1</rasd:HostResource>
        <rasd:InstanceID>4</rasd:InstanceID>
        <rasd:Parent>3</rasd:Parent>
        <rasd:ResourceType>17</rasd:ResourceType>
      </Item>
      <Item>
        <rasd:AutomaticAllocation>true</rasd:AutomaticAllocation>
        <rasd:Connection>Management</rasd:Connection>
        <rasd:ElementName>Network adapter 1</rasd:ElementName>
        <rasd:InstanceID>5</rasd:InstanceID>
        <rasd:ResourceSubType>VmxNet3</rasd:ResourceSubType>
        <rasd:ResourceType>10</rasd:ResourceType>
      </Item>
      <vmw:Config ovf:required="false" vmw:key="firmware" vmw:value="efi"/>
    </VirtualHardwareSection>
  </VirtualSystem>
</Envelope>
OVF
(cd "$work" && for f in "$name.ovf" "$name-disk1.vmdk"; do echo "SHA256($f)= $(sha256sum "$f" | cut -d' ' -f1)"; done) > "$work/$name.mf"
mkdir -p "$(dirname "$OUT")"
tar --format=ustar -C "$work" -cf "$OUT" "$name.ovf" "$name.mf" "$name-disk1.vmdk"
echo "ova: $OUT ($(du -h "$OUT" | cut -f1))"
