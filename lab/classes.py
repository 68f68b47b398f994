# The lab's classes: what each starts in the run's two namespaces, the workload it carries,
# and the flows that are its (protocol and server port, between the run's two addresses).
# A class's label comes from what it started, never from a guess at the traffic.
import json
import os
import subprocess
import time
import uuid

from netlab import CLIENT, SERVER, wait_for

ORIGIN_PORT = 8080  # the plain HTTP server behind the tunnels and proxies, in the server's namespace


class Context:
    """What a class run is given: the run, the PKI, the workload and its random source."""

    def __init__(self, run, pki, blobs, rng):
        self.run, self.pki, self.blobs, self.rng = run, pki, blobs, rng
        self.files = run.dir

    def path(self, name):
        return os.path.join(self.files, name)

    def write(self, name, text):
        with open(self.path(name), "w") as f:
            f.write(text)
        return self.path(name)

    def origin(self):
        """The plain HTTP server the workload fetches from (bound to every address of the
        server's namespace, so tunnels reach it by their inner address)."""
        self.run.spawn(SERVER, ["python3", "-m", "http.server", "--bind", "0.0.0.0",
                                ORIGIN_PORT, "--directory", self.path("www")], "origin")
        wait_port(self.run, SERVER, "127.0.0.1", ORIGIN_PORT)

    def fetch_all(self, url, *curl_args):
        """The workload: each blob once, with a pause between."""
        for blob in self.blobs:
            self.run.exec(CLIENT, ["curl", "-sS", "--fail", "-o", "/dev/null", "--max-time", "120",
                                   *curl_args, f"{url}/{blob}"], timeout=130)
            time.sleep(self.run.cond.pause)


def wait_port(run, side, host, port, seconds=15):
    def ready():
        p = subprocess.run(["ip", "netns", "exec", run.ns[side], "bash", "-c",
                            f"exec 3<>/dev/tcp/{host}/{port}"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        return p.returncode == 0
    wait_for(ready, seconds, f"{host}:{port} in the {side} namespace")


def wait_ping(run, address, seconds=30):
    def ready():
        return subprocess.run(["ip", "netns", "exec", run.ns[CLIENT], "ping", "-c1", "-W1", address],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0
    wait_for(ready, seconds, f"the tunnel to {address}")


class LabClass:
    name = ""
    family = ""       # vpn, proxy or app
    proto = "TCP"     # of the flows that are the class's
    port = 0          # their server port
    protos = None     # when they have more than one protocol
    packages = ()     # Debian packages (lab/install.sh installs them all)
    tools = ()        # commands that must be there

    def flow_protos(self):
        return self.protos or (self.proto,)

    def serve(self, c, server):
        """Starts the class's server; returns once it listens on the class's port."""
        c.run.spawn(SERVER, server, f"{self.name}-server")
        wait_port(c.run, SERVER, c.run.ip[SERVER], self.port)

    def start(self, c):
        """Starts the servers and clients; returns once traffic can flow."""
        raise NotImplementedError

    def work(self, c):
        raise NotImplementedError


# ---- tunnels -----------------------------------------------------------------------------

class Tunnel(LabClass):
    """A VPN: the workload reaches the origin at the server's address inside the tunnel."""
    family = "vpn"
    INNER = {}  # the tunnel's addresses, by side

    def work(self, c):
        c.fetch_all(f"http://{self.INNER[SERVER]}:{ORIGIN_PORT}")


class OpenVpn(Tunnel):
    port = 1194
    INNER = {SERVER: "10.8.0.1"}  # the first of --server's network
    packages, tools = ("openvpn",), ("openvpn",)
    CIPHERS = ["AES-256-GCM", "AES-128-GCM", "CHACHA20-POLY1305"]

    def __init__(self, proto):
        self.proto = proto
        self.name = f"openvpn-{proto.lower()}"

    def start(self, c):
        r, pki = c.run, c.pki
        cipher = c.rng.choice(self.CIPHERS)
        common = ["--dev", "tun", "--ca", pki.ca, "--data-ciphers", cipher, "--verb", "3"]
        srv = ["openvpn", "--mode", "server", "--tls-server", "--port", self.port, "--topology",
               "subnet", "--server", "10.8.0.0", "255.255.255.0", "--cert", pki.server_crt,
               "--key", pki.server_key, "--dh", "none", "--proto",
               "udp" if self.proto == "UDP" else "tcp-server"]
        cli = ["openvpn", "--client", "--remote", r.ip[SERVER], self.port, "--cert", pki.client_crt,
               "--key", pki.client_key, "--remote-cert-tls", "server", "--nobind", "--proto",
               "udp" if self.proto == "UDP" else "tcp-client"]
        r.spawn(SERVER, srv + common, "openvpn-server")
        time.sleep(0.5)
        r.spawn(CLIENT, cli + common, "openvpn-client")
        wait_ping(r, self.INNER[SERVER])
        return {"cipher": cipher}


class WireGuard(Tunnel):
    name, proto, port = "wireguard", "UDP", 51820
    INNER = {SERVER: "10.9.0.1", CLIENT: "10.9.0.2"}
    packages, tools = ("wireguard-go", "wireguard-tools"), ("wireguard-go", "wg")

    def start(self, c):
        r = c.run
        env = dict(os.environ, WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD="1")
        # The UAPI sockets live in /var/run/wireguard, shared by the namespaces: names unique.
        ifs = {SERVER: r.dev[SERVER].replace("el", "wg", 1), CLIENT: r.dev[CLIENT].replace("el", "wg", 1)}
        keys = {}
        for side in (SERVER, CLIENT):
            key = r.exec(side, ["wg", "genkey"]).strip()
            pub = subprocess.run(["wg", "pubkey"], input=key, capture_output=True, text=True,
                                 check=True).stdout.strip()
            keys[side] = (c.write(f"wg-{side}.key", key + "\n"), pub)
            r.spawn(side, ["wireguard-go", "-f", ifs[side]], f"wireguard-{side}", env=env)
        for side in (SERVER, CLIENT):
            wait_for(lambda: os.path.exists(f"/var/run/wireguard/{ifs[side]}.sock"), 10, "wireguard-go")
        inner = self.INNER
        r.exec(SERVER, ["wg", "set", ifs[SERVER], "listen-port", self.port, "private-key",
                        keys[SERVER][0], "peer", keys[CLIENT][1], "allowed-ips", f"{inner[CLIENT]}/32"])
        r.exec(CLIENT, ["wg", "set", ifs[CLIENT], "private-key", keys[CLIENT][0], "peer",
                        keys[SERVER][1], "allowed-ips", f"{inner[SERVER]}/32", "endpoint",
                        f"{r.ip[SERVER]}:{self.port}"])
        for side in (SERVER, CLIENT):
            r.exec(side, ["ip", "addr", "add", f"{inner[side]}/24", "dev", ifs[side]])
            r.exec(side, ["ip", "link", "set", ifs[side], "mtu", r.cond.mtu - 80, "up"])
        wait_ping(r, inner[SERVER])
        return {}


class Nebula(Tunnel):
    name, proto, port = "nebula", "UDP", 4242
    INNER = {SERVER: "10.14.0.1", CLIENT: "10.14.0.2"}
    packages, tools = ("nebula",), ("nebula", "nebula-cert")

    def start(self, c):
        r = c.run
        cert = ["nebula-cert"]
        r.exec(SERVER, cert + ["ca", "-name", "lab", "-out-crt", c.path("neb-ca.crt"), "-out-key",
                               c.path("neb-ca.key")])
        inner = self.INNER
        for side in (SERVER, CLIENT):
            r.exec(SERVER, cert + ["sign", "-name", side, "-ip", f"{inner[side]}/24", "-ca-crt",
                                   c.path("neb-ca.crt"), "-ca-key", c.path("neb-ca.key"), "-out-crt",
                                   c.path(f"neb-{side}.crt"), "-out-key", c.path(f"neb-{side}.key")])
            lighthouse = side == SERVER
            conf = c.write(f"nebula-{side}.yml", f"""pki: {{ca: {c.path('neb-ca.crt')}, cert: {c.path(f'neb-{side}.crt')}, key: {c.path(f'neb-{side}.key')}}}
static_host_map: {{"{inner[SERVER]}": ["{r.ip[SERVER]}:{self.port}"]}}
lighthouse: {{am_lighthouse: {str(lighthouse).lower()}, hosts: [{'' if lighthouse else '"' + inner[SERVER] + '"'}]}}
listen: {{host: 0.0.0.0, port: {self.port if lighthouse else 0}}}
punchy: {{punch: false}}
tun: {{dev: neb{side[0]}, mtu: {r.cond.mtu - 100}}}
firewall:
  outbound: [{{port: any, proto: any, host: any}}]
  inbound: [{{port: any, proto: any, host: any}}]
""")
            r.spawn(side, ["nebula", "-config", conf], f"nebula-{side}")
            time.sleep(0.3)
        wait_ping(r, inner[SERVER])
        return {}


class Tinc(Tunnel):
    name, port = "tinc", 655
    INNER = {SERVER: "10.13.0.1", CLIENT: "10.13.0.2"}
    packages, tools = ("tinc",), ("tincd",)
    protos = ("TCP", "UDP")  # the meta connection, and the data
    CIPHERS = ["aes-256-cbc", "aes-128-cbc"]

    def start(self, c):
        r = c.run
        cipher = c.rng.choice(self.CIPHERS)
        inner = self.INNER
        node = {SERVER: "labs", CLIENT: "labc"}
        dirs = {side: c.path(f"tinc-{side}") for side in (SERVER, CLIENT)}
        for side in (SERVER, CLIENT):
            os.makedirs(os.path.join(dirs[side], "hosts"), exist_ok=True)
            c.write(f"tinc-{side}/tinc.conf", f"Name = {node[side]}\nInterface = tinc{side[0]}\n"
                    "Device = /dev/net/tun\n" + (f"ConnectTo = {node[SERVER]}\n" if side == CLIENT else ""))
            up = c.write(f"tinc-{side}/tinc-up", f"#!/bin/sh\nip addr add {inner[side]}/24 dev $INTERFACE\n"
                         f"ip link set $INTERFACE mtu {r.cond.mtu - 100} up\n")
            os.chmod(up, 0o755)
            c.write(f"tinc-{side}/hosts/{node[side]}", f"Subnet = {inner[side]}/32\nCipher = {cipher}\n"
                    + (f"Address = {r.ip[SERVER]}\n" if side == SERVER else ""))
            subprocess.run(["tincd", "-c", dirs[side], "-K", "2048"], stdin=subprocess.DEVNULL,
                           capture_output=True, check=True)
        for side, other in ((SERVER, CLIENT), (CLIENT, SERVER)):
            with open(os.path.join(dirs[side], "hosts", node[side])) as f:
                c.write(f"tinc-{other}/hosts/{node[side]}", f.read())
        for side in (SERVER, CLIENT):
            r.spawn(side, ["tincd", "-c", dirs[side], "-D", f"--pidfile={dirs[side]}/pid",
                           f"--logfile={dirs[side]}/log"], f"tinc-{side}")
            time.sleep(0.5)
        wait_ping(r, inner[SERVER])
        return {"cipher": cipher}


# ---- proxies -----------------------------------------------------------------------------

LOCAL_PORT = 1080  # where a proxy's client listens, in the client's namespace


class Proxy(LabClass):
    """A proxy: its server, and its client listening on LOCAL_PORT (SOCKS5 unless `work` says
    otherwise), through which the workload reaches the origin."""
    family = "proxy"

    def start_pair(self, c, server, client):
        """Starts the server, then, once it listens, the client, until it listens too."""
        self.serve(c, server)
        c.run.spawn(CLIENT, client, f"{self.name}-client")
        wait_port(c.run, CLIENT, "127.0.0.1", LOCAL_PORT)

    def work(self, c):
        c.fetch_all(f"http://{c.run.ip[SERVER]}:{ORIGIN_PORT}", "--socks5-hostname",
                    f"127.0.0.1:{LOCAL_PORT}")


class Shadowsocks(Proxy):
    name, port = "shadowsocks", 8388
    packages, tools = ("shadowsocks-libev",), ("ss-server", "ss-local")
    CIPHERS = ["chacha20-ietf-poly1305", "aes-256-gcm", "aes-128-gcm"]

    def start(self, c):
        r = c.run
        cipher = c.rng.choice(self.CIPHERS)
        self.start_pair(c, ["ss-server", "-s", r.ip[SERVER], "-p", self.port, "-k", "labpass", "-m",
                            cipher],
                        ["ss-local", "-s", r.ip[SERVER], "-p", self.port, "-b", "127.0.0.1", "-l",
                         LOCAL_PORT, "-k", "labpass", "-m", cipher])
        return {"cipher": cipher}


class Stunnel(Proxy):
    name, port = "stunnel", 8443
    packages, tools = ("stunnel4",), ("stunnel4",)

    def start(self, c):
        r, pki = c.run, c.pki
        srv = c.write("stunnel-server.conf", f"foreground = yes\npid =\n[lab]\naccept = {r.ip[SERVER]}:"
                      f"{self.port}\nconnect = 127.0.0.1:{ORIGIN_PORT}\ncert = {pki.server_crt}\n"
                      f"key = {pki.server_key}\n")
        cli = c.write("stunnel-client.conf", f"foreground = yes\npid =\n[lab]\nclient = yes\naccept = "
                      f"127.0.0.1:{LOCAL_PORT}\nconnect = {r.ip[SERVER]}:{self.port}\nCAfile = {pki.ca}\n"
                      "verifyChain = yes\n")
        self.start_pair(c, ["stunnel4", srv], ["stunnel4", cli])
        return {}

    def work(self, c):  # the client forwards plain HTTP
        c.fetch_all(f"http://127.0.0.1:{LOCAL_PORT}")


class SshSocks(Proxy):
    name, port = "ssh-socks", 22
    packages, tools = ("openssh-server", "openssh-client"), ("ssh", "ssh-keygen")
    KEYS = ["ed25519", "ecdsa", "rsa"]

    def start(self, c):
        r = c.run
        kind = c.rng.choice(self.KEYS)
        host_key, user_key = c.path("ssh-host-key"), c.path("ssh-user-key")
        for k in (host_key, user_key):
            if not os.path.exists(k):
                subprocess.run(["ssh-keygen", "-q", "-t", kind, "-N", "", "-f", k], check=True)
        conf = c.write("sshd_config", f"ListenAddress {r.ip[SERVER]}\nHostKey {host_key}\n"
                       f"AuthorizedKeysFile {user_key}.pub\nPermitRootLogin prohibit-password\n"
                       "StrictModes no\nPasswordAuthentication no\nUsePAM no\nPidFile none\n")
        os.makedirs("/run/sshd", exist_ok=True)
        self.start_pair(c, ["/usr/sbin/sshd", "-D", "-e", "-f", conf],
                        ["ssh", "-N", "-D", f"127.0.0.1:{LOCAL_PORT}", "-i", user_key, "-o",
                         "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o",
                         "BatchMode=yes", f"root@{r.ip[SERVER]}"])
        return {"key": kind}


class V2RayVmess(Proxy):
    name, port = "v2ray-vmess", 10086
    packages, tools = ("v2ray",), ("v2ray",)
    SECURITY = ["aes-128-gcm", "chacha20-poly1305"]

    def start(self, c):
        r = c.run
        user = {"id": str(uuid.UUID(int=c.rng.getrandbits(128), version=4)), "alterId": 0,
                "security": c.rng.choice(self.SECURITY)}
        srv = c.write("v2ray-server.json", json.dumps({
            "log": {"loglevel": "warning"},
            "inbounds": [{"listen": r.ip[SERVER], "port": self.port, "protocol": "vmess",
                          "settings": {"clients": [user]}}],
            "outbounds": [{"protocol": "freedom"}]}))
        cli = c.write("v2ray-client.json", json.dumps({
            "log": {"loglevel": "warning"},
            "inbounds": [{"listen": "127.0.0.1", "port": LOCAL_PORT, "protocol": "socks"}],
            "outbounds": [{"protocol": "vmess", "settings": {"vnext": [
                {"address": r.ip[SERVER], "port": self.port, "users": [user]}]}}]}))
        self.start_pair(c, ["v2ray", "-config", srv], ["v2ray", "-config", cli])
        return {"security": user["security"]}


class Trojan(Proxy):
    name, port = "trojan", 4443
    packages, tools = ("trojan",), ("trojan",)

    def start(self, c):
        r, pki = c.run, c.pki
        srv = c.write("trojan-server.json", json.dumps({
            "run_type": "server", "local_addr": r.ip[SERVER], "local_port": self.port,
            "remote_addr": "127.0.0.1", "remote_port": ORIGIN_PORT, "password": ["labpass"],
            "log_level": 1, "ssl": {"cert": pki.server_crt, "key": pki.server_key,
                                    "alpn": ["http/1.1"]}}))
        cli = c.write("trojan-client.json", json.dumps({
            "run_type": "client", "local_addr": "127.0.0.1", "local_port": LOCAL_PORT,
            "remote_addr": r.ip[SERVER], "remote_port": self.port, "password": ["labpass"],
            "log_level": 1, "ssl": {"verify": True, "verify_hostname": True, "cert": pki.ca,
                                    "sni": "server", "alpn": ["h2", "http/1.1"]}}))
        self.start_pair(c, ["trojan", "-c", srv], ["trojan", "-c", cli])
        return {}


# ---- applications over TLS ---------------------------------------------------------------

class Https(LabClass):
    family, port = "app", 443
    packages, tools = ("nginx", "curl"), ("nginx", "curl")
    TLS = [["--tlsv1.2", "--tls-max", "1.2"], ["--tlsv1.3"]]

    def __init__(self, http):
        self.http = http
        self.name = f"https-{http}"

    def start(self, c):
        r, pki = c.run, c.pki
        conf = c.write("nginx.conf", f"user root;\nworker_processes 1;\npid {c.path('nginx.pid')};\n"
                       f"error_log {c.path('nginx.err')};\nevents {{}}\nhttp {{\n"
                       f"  access_log {c.path('nginx.access')};\n  server {{\n"
                       f"    listen {r.ip[SERVER]}:443 ssl http2;\n    root {c.path('www')};\n"
                       f"    ssl_certificate {pki.server_crt};\n    ssl_certificate_key {pki.server_key};\n"
                       "    ssl_protocols TLSv1.2 TLSv1.3;\n  }\n}\n")
        self.serve(c, ["nginx", "-c", conf, "-g", "daemon off;"])
        self.tls = c.rng.choice(self.TLS)
        return {"tls": self.tls[0]}

    def work(self, c):
        http = "--http1.1" if self.http == "http1" else "--http2"
        c.fetch_all("https://server", http, *self.tls, "--cacert", c.pki.ca, "--resolve",
                    f"server:443:{c.run.ip[SERVER]}")


class MqttTls(LabClass):
    name, family, port = "mqtt-tls", "app", 8883
    packages, tools = ("mosquitto", "mosquitto-clients"), ("mosquitto", "mosquitto_pub")

    def start(self, c):
        r, pki = c.run, c.pki
        conf = c.write("mosquitto.conf", f"per_listener_settings false\nallow_anonymous true\n"
                       f"persistence false\nuser root\nlistener {self.port} {r.ip[SERVER]}\ncafile {pki.ca}\n"
                       f"certfile {pki.server_crt}\nkeyfile {pki.server_key}\n")
        self.serve(c, ["mosquitto", "-c", conf])
        return {}

    def work(self, c):
        r = c.run
        tls = ["-h", r.ip[SERVER], "-p", self.port, "--cafile", c.pki.ca]
        count = len(c.blobs) * 4
        r.spawn(CLIENT, ["mosquitto_sub", *tls, "-t", "lab/#", "-C", count, "-W", 120], "mqtt-sub")
        time.sleep(0.5)
        for i in range(count):
            blob = c.path(os.path.join("www", c.blobs[i % len(c.blobs)]))
            size = min(os.path.getsize(blob), 200_000)
            r.exec(CLIENT, ["bash", "-c", f"head -c {size} {blob} | mosquitto_pub "
                            + " ".join(map(str, tls)) + f" -t lab/{i} -s"])
            time.sleep(r.cond.pause)


class DnsOverTls(LabClass):
    name, family, port = "dns-over-tls", "app", 853
    packages, tools = ("unbound", "knot-dnsutils"), ("unbound", "kdig")

    def start(self, c):
        r, pki = c.run, c.pki
        names = "".join(f'local-data: "h{i}.lab. 300 IN A 10.1.{i // 250}.{i % 250 + 1}"\n'
                        f"local-data: 'h{i}.lab. 300 IN TXT \"{'x' * (1 + i * 7 % 200)}\"'\n"
                        for i in range(64))
        conf = c.write("unbound.conf", f"server:\n interface: {r.ip[SERVER]}@853\n tls-port: 853\n"
                       f" tls-service-key: {pki.server_key}\n tls-service-pem: {pki.server_crt}\n"
                       " access-control: 0.0.0.0/0 allow\n do-daemonize: no\n chroot: \"\"\n"
                       f" username: \"\"\n pidfile: {c.path('unbound.pid')}\n"
                       " module-config: \"iterator\"\n local-zone: \"lab.\" static\n" + names +
                       "remote-control:\n control-enable: no\n")
        self.serve(c, ["unbound", "-d", "-c", conf])
        return {}

    def work(self, c):
        r = c.run
        for q in range(len(c.blobs) * 3):
            names = [f"h{c.rng.randrange(64)}.lab" for _ in range(c.rng.randint(1, 6))]
            args = []
            for n in names:
                args += [n, c.rng.choice(["A", "TXT"])]
            r.exec(CLIENT, ["kdig", f"@{r.ip[SERVER]}", f"+tls-ca={c.pki.ca}", "+tls-hostname=server",
                            "+keepopen", *args])
            time.sleep(r.cond.pause)


ALL = [OpenVpn("UDP"), OpenVpn("TCP"), WireGuard(), Nebula(), Tinc(), Shadowsocks(), Stunnel(),
       SshSocks(), V2RayVmess(), Trojan(), Https("http1"), Https("http2"), MqttTls(), DnsOverTls()]
BY_NAME = {c.name: c for c in ALL}
