/**
 * The generated OpenStack, tls and random bindings (.gen/, from the committed schemas), in one
 * place. Internal: the constructs' public API exposes its own types, not these.
 * @internal
 */
export { BlockstorageVolumeV3 } from "../../.gen/providers/openstack/blockstorage-volume-v3";
export { ComputeInstanceV2 } from "../../.gen/providers/openstack/compute-instance-v2";
export { ComputeServergroupV2 } from "../../.gen/providers/openstack/compute-servergroup-v2";
export { NetworkingFloatingipAssociateV2 } from "../../.gen/providers/openstack/networking-floatingip-associate-v2";
export { NetworkingFloatingipV2 } from "../../.gen/providers/openstack/networking-floatingip-v2";
export { NetworkingNetworkV2 } from "../../.gen/providers/openstack/networking-network-v2";
export { NetworkingPortV2 } from "../../.gen/providers/openstack/networking-port-v2";
export { NetworkingRouterInterfaceV2 } from "../../.gen/providers/openstack/networking-router-interface-v2";
export { NetworkingRouterRouteV2 } from "../../.gen/providers/openstack/networking-router-route-v2";
export { NetworkingRouterV2 } from "../../.gen/providers/openstack/networking-router-v2";
export { NetworkingSecgroupRuleV2 } from "../../.gen/providers/openstack/networking-secgroup-rule-v2";
export { NetworkingSecgroupV2 } from "../../.gen/providers/openstack/networking-secgroup-v2";
export { NetworkingSubnetV2 } from "../../.gen/providers/openstack/networking-subnet-v2";
export { DataOpenstackNetworkingNetworkV2 } from "../../.gen/providers/openstack/data-openstack-networking-network-v2";
export { OpenstackProvider } from "../../.gen/providers/openstack/provider";
export { PrivateKey } from "../../.gen/providers/tls/private-key";
export { SelfSignedCert } from "../../.gen/providers/tls/self-signed-cert";
export { LocallySignedCert } from "../../.gen/providers/tls/locally-signed-cert";
export { CertRequest } from "../../.gen/providers/tls/cert-request";
export { TlsProvider } from "../../.gen/providers/tls/provider";
export { Bytes } from "../../.gen/providers/random/bytes";
export { Uuid } from "../../.gen/providers/random/uuid";
export { Password } from "../../.gen/providers/random/password";
export { RandomProvider } from "../../.gen/providers/random/provider";
