#!/usr/bin/env python3
"""A HEPv3 collector for tests, written from the HEP3 chunk description (not from Rampart's code).

hep_collector.py PORT SECONDS COUNT PCAP [TYPE]
Listens on 127.0.0.1:PORT (UDP) until COUNT packets (of payload type TYPE, when given) arrived or SECONDS passed. Decodes each packet's chunks and
writes the captured payloads into PCAP (raw IPv4 frames with the addresses and ports the chunks name), so that
tshark can dissect the inner SIP. Prints one JSON object: the decoded packets (payload as text) and any errors.
"""
import json
import socket
import struct
import sys
import time

port, seconds, count, pcap_path = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
counted_type = int(sys.argv[5]) if len(sys.argv) > 5 else None
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind(("127.0.0.1", port))
sock.settimeout(0.2)
print("listening", flush=True)
deadline = time.time() + seconds
packets, errors, frames = [], [], []


def decode(data):
    if data[:4] != b"HEP3":
        raise ValueError("no HEP3 magic")
    total = struct.unpack("!H", data[4:6])[0]
    if total != len(data):
        raise ValueError("length %d for %d bytes" % (total, len(data)))
    chunks, offset = {}, 6
    while offset < total:
        vendor, kind, length = struct.unpack("!HHH", data[offset:offset + 6])
        if length < 6 or offset + length > total:
            raise ValueError("bad chunk length")
        if vendor == 0:
            chunks[kind] = data[offset + 6:offset + length]
        offset += length
    family = chunks[1][0]
    if family != 2:
        raise ValueError("this collector reads IPv4 only")
    return {
        "protocol": chunks[2][0],
        "source": socket.inet_ntoa(chunks[3]), "destination": socket.inet_ntoa(chunks[4]),
        "sourcePort": struct.unpack("!H", chunks[7])[0], "destinationPort": struct.unpack("!H", chunks[8])[0],
        "seconds": struct.unpack("!I", chunks[9])[0], "microseconds": struct.unpack("!I", chunks[10])[0],
        "payloadType": chunks[11][0], "captureID": struct.unpack("!I", chunks[12])[0],
        "authKey": chunks.get(14, b"").decode(), "correlationID": chunks.get(17, b"").decode(),
        "payload": chunks[15],
    }


def frame(packet):
    payload = packet["payload"]
    udp = struct.pack("!HHHH", packet["sourcePort"], packet["destinationPort"], 8 + len(payload), 0) + payload
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                         socket.inet_aton(packet["source"]), socket.inet_aton(packet["destination"]))
    checksum = sum(struct.unpack("!10H", header))
    checksum = (checksum & 0xFFFF) + (checksum >> 16)
    checksum = ~((checksum & 0xFFFF) + (checksum >> 16)) & 0xFFFF
    return header[:10] + struct.pack("!H", checksum) + header[12:] + udp


def counted():
    return sum(1 for p in packets if counted_type is None or p["payloadType"] == counted_type)


while time.time() < deadline and counted() < count:
    try:
        data, _ = sock.recvfrom(65535)
    except socket.timeout:
        continue
    try:
        packet = decode(data)
    except (ValueError, KeyError, IndexError, struct.error) as error:
        errors.append(str(error))
        continue
    frames.append((packet["seconds"], packet["microseconds"], frame(packet)))
    packet["payload"] = packet["payload"].decode("utf-8", "replace")
    packets.append(packet)

with open(pcap_path, "wb") as out:
    out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 101))  # raw IP, microseconds
    for seconds_, micros, data in frames:
        out.write(struct.pack("<IIII", seconds_, micros, len(data), len(data)) + data)
print(json.dumps({"packets": packets, "errors": errors}))
