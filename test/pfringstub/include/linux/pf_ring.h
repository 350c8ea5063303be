/*
 * linux/pf_ring.h: compile-check stub for icmp_exporter (see ../../README.md).
 *
 * Written for this project from PF_RING's documented API; it is not ntop's
 * header. It declares only the types that <pfring.h> and
 * github.com/google/gopacket/pfring use, with the field names and enum values
 * of PF_RING 8.x. It is NOT ABI-compatible with a real libpfring (struct
 * pfring_pkthdr is shortened): never compile against it for a real PF_RING
 * host. On such a host, use the headers ntop's packages install.
 */
#ifndef ICMP_EXPORTER_PFRINGSTUB_LINUX_PF_RING_H
#define ICMP_EXPORTER_PFRINGSTUB_LINUX_PF_RING_H

#include <sys/types.h>
#include <sys/time.h>
#include <stdint.h>

/* Error codes (pfring_* return values). */
#define PF_RING_ERROR_GENERIC              -1
#define PF_RING_ERROR_INVALID_ARGUMENT     -2
#define PF_RING_ERROR_NO_PKT_AVAILABLE     -3
#define PF_RING_ERROR_NO_TX_SLOT_AVAILABLE -4
#define PF_RING_ERROR_WRONG_CONFIGURATION  -5
#define PF_RING_ERROR_END_OF_DEMO_MODE     -6
#define PF_RING_ERROR_NOT_SUPPORTED        -7
#define PF_RING_ERROR_INVALID_LIB_VERSION  -8
#define PF_RING_ERROR_UNKNOWN_ADAPTER      -9
#define PF_RING_ERROR_NOT_ENOUGH_MEMORY   -10
#define PF_RING_ERROR_INVALID_STATUS      -11
#define PF_RING_ERROR_RING_NOT_ENABLED    -12

/* Extended packet header: the fields up to pkt_hash (the "short header").
 * Real PF_RING continues with tx and parsed-packet information. */
struct pfring_extended_pkthdr {
  u_int64_t timestamp_ns; /* ns; hardware stamp when present, else the kernel's */
  u_int32_t flags;
  u_int8_t  rx_direction; /* 1 = RX, 0 = TX */
  int32_t   if_index;
  u_int32_t pkt_hash;
};

struct pfring_pkthdr {
  struct timeval ts;
  u_int32_t caplen;
  u_int32_t len;
  struct pfring_extended_pkthdr extended_hdr;
};

typedef enum {
  rx_and_tx_direction = 0,
  rx_only_direction,
  tx_only_direction
} packet_direction;

typedef enum {
  send_and_recv_mode = 0,
  send_only_mode,
  recv_only_mode
} socket_mode;

typedef enum {
  cluster_per_flow = 0,
  cluster_round_robin,
  cluster_per_flow_2_tuple,
  cluster_per_flow_4_tuple,
  cluster_per_flow_5_tuple,
  cluster_per_flow_tcp_5_tuple
} cluster_type;

#endif
