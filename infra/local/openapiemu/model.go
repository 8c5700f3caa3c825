package openapiemu

import "time"

// Credentials is an access key pair; SecurityToken is non-empty for STS
// credentials, and then must accompany every call.
type Credentials struct {
	AccessKeyID     string
	AccessKeySecret string
	SecurityToken   string
	Expiration      time.Time // STS only
}

// NATGateway is a NAT gateway's state. Empty fields take the defaults noted.
type NATGateway struct {
	ID, Name, VPCID    string
	NetworkType        string // "internet" (default) or "intranet"
	NatType            string // "Enhanced" (default)
	Spec               string // pay-by-specification size: Small, Middle, Large
	InstanceChargeType string // "PostPaid" (default) or "PrePaid"
	InternetChargeType string // "PayByLcu" (default) or "PayBySpec" (no session logs)
	EipBindMode        string // "MULTI_BINDED" (default) or "NAT"
	Status             string // "Available" (default)
	IPs                []NATIP
	SessionLogEnabled  bool
	LogDeliveryType    string // "sls" once session logs were enabled
	LogDestination     string // acs:log:<region>:<uid>:project/<p>/logstore/<ls>
	Tags               map[string]string
}

// NATIP is an EIP bound to a NAT gateway.
type NATIP struct {
	EIP, PrivateIP, AllocationID string
}

// ALB is an Application Load Balancer's state.
type ALB struct {
	ID, Name, VPCID string
	AddressType     string // "Internet" (default) or "Intranet"
	Edition         string // "Standard" (default)
	Status          string // "Active" (default)
	Addresses       []ALBAddress
	LogProject      string // access log target; empty when off
	LogStore        string
	Tags            map[string]string
}

// ALBAddress is one zone address of an ALB.
type ALBAddress struct {
	ZoneID, VSwitchID string
	Address           string // public IPv4 for an Internet ALB, else the private one
	IntranetAddress   string
	AllocationID      string // EIP
}

// CLB is a Classic Load Balancer's state.
type CLB struct {
	ID, Name, VPCID, VSwitchID string
	Address                    string // the VIP
	AddressType                string // "internet" (default) or "intranet"
	NetworkType                string // "vpc" (default)
	Status                     string // "active" (default)
	LogProject, LogStore       string // layer-7 access log target; empty when off
	Tags                       map[string]string
}

// ENI is an elastic network interface.
type ENI struct {
	ID, InstanceID, VPCID, VSwitchID string
	PrimaryIP                        string
	SecondaryIPs                     []string
	Type                             string // "Primary" (default when attached) or "Secondary"
	Status                           string // "InUse" when attached, else "Available"
	ServiceManaged                   bool
	Created                          time.Time // CreationTime; zero: not reported
}

// Call is one request as the emulator saw it.
type Call struct {
	Time        time.Time
	Host        string // the endpoint the client addressed
	Product     string // vpc, alb, slb, ecs, sts
	Action      string
	Account     string // empty when authentication failed
	Region      string
	AccessKeyID string
	// Params are the request parameters without the Signature and the
	// SecurityToken.
	Params map[string]string
	// Code is the error code answered, empty on success.
	Code       string
	HTTPStatus int
}
