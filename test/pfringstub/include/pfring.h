/*
 * pfring.h: compile-check stub for icmp_exporter (see ../README.md).
 *
 * Written for this project: it declares, with the signatures of PF_RING's
 * documented API (PF_RING 8.x userland/lib/pfring.h), exactly the functions,
 * flags and types that github.com/google/gopacket/pfring v1.1.19 and
 * probe/datapath_pfring.go use, so that `go build -tags pfring` and `go vet`
 * type-check the cgo code in CI. The matching libpfring.a (pfring_stub.c)
 * fails every call the way libpfring does on a host without pf_ring.ko.
 * `struct __pfring` is opaque here: programs only ever hold pointers to it.
 */
#ifndef ICMP_EXPORTER_PFRINGSTUB_PFRING_H
#define ICMP_EXPORTER_PFRINGSTUB_PFRING_H

#include <sys/types.h>
#include <stdint.h>
#include <linux/pf_ring.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct __pfring pfring;

typedef struct {
  u_int64_t recv;
  u_int64_t drop;
  u_int64_t shunt;
} pfring_stat;

/* pfring_open() flags. */
#define PF_RING_ZC_SYMMETRIC_RSS  (1 << 0)
#define PF_RING_REENTRANT         (1 << 1)
#define PF_RING_LONG_HEADER       (1 << 2)
#define PF_RING_PROMISC           (1 << 3)
#define PF_RING_TIMESTAMP         (1 << 4)
#define PF_RING_HW_TIMESTAMP      (1 << 5)
#define PF_RING_DNA_SYMMETRIC_RSS PF_RING_ZC_SYMMETRIC_RSS /* backward compatibility */

pfring *pfring_open(const char *device_name, u_int32_t caplen, u_int32_t flags);
void pfring_close(pfring *ring);
void pfring_shutdown(pfring *ring);
void pfring_breakloop(pfring *ring);
void pfring_config(u_short cpu_percentage);
int pfring_stats(pfring *ring, pfring_stat *stats);
int pfring_recv(pfring *ring, u_char **buffer, u_int buffer_len,
                struct pfring_pkthdr *hdr, u_int8_t wait_for_incoming_packet);
int pfring_set_poll_watermark(pfring *ring, u_int16_t watermark);
int pfring_set_poll_duration(pfring *ring, u_int duration);
int pfring_set_application_name(pfring *ring, char *name);
int pfring_send(pfring *ring, char *pkt, u_int pkt_len, u_int8_t flush_packet);
int pfring_set_sampling_rate(pfring *ring, u_int32_t rate);
int pfring_set_direction(pfring *ring, packet_direction direction);
int pfring_set_socket_mode(pfring *ring, socket_mode mode);
int pfring_set_cluster(pfring *ring, u_int clusterId, cluster_type the_type);
int pfring_remove_from_cluster(pfring *ring);
int pfring_enable_ring(pfring *ring);
int pfring_disable_ring(pfring *ring);
int pfring_set_bpf_filter(pfring *ring, char *filter_buffer);
int pfring_remove_bpf_filter(pfring *ring);

#ifdef __cplusplus
}
#endif

#endif
