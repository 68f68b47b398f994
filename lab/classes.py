# The lab's classes: what each starts in the run's two namespaces, the workload it carries,
# and the flows that are its (protocol and server port, between the run's two addresses).
# A class's label comes from what it started, never from a guess at the traffic.
import json
import os
import subprocess
import time
import uuid

from netlab import CLIENT, SERVER, sh, wait_for

ORIGIN_PORT = 8080  # the plain HTTP server behind the tunnels and proxies, in the server's namespace


class Context:
    """What a class run is given: the run, the PKI, the workload and its random source."""

    def __init__(self, run, pki, blobs, rng):
        self.run, self.pki, self.blobs, self.rng = run, pki, blobs, rng
        self.files = run.dir
        # Where an application's client reaches its server: the run's server address, or,
        # when the application is carried by a tunnel, the tunnel's inner one.
        self.server_addr = run.ip[SERVER]

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

    def python_client(self, script, tls, *args):
        """Runs one of the Python clients below in the client's namespace: TLS to
        server_addr, the certificate checked against the CA and the name "server"."""
        self.run.exec(CLIENT, ["python3", "-c", PY_TLS + script, self.server_addr, self.pki.ca, tls,
                               self.run.cond.pause, *args], timeout=300)

    def blob_paths(self):
        return [self.path(os.path.join("www", b)) for b in self.blobs]


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
    family = ""       # vpn, proxy, app or vpn+app
    proto = "TCP"     # of the flows that are the class's
    port = 0          # their server port
    protos = None     # when they have more than one protocol
    packages = ()     # Debian packages (lab/install.sh installs them all)
    tools = ()        # commands that must be there

    def flow_protos(self):
        return self.protos or (self.proto,)

    def owns(self, proto, port):
        """Whether a flow between the run's two addresses, of protocol `proto` with server
        port `port`, is the class's."""
        return proto in self.flow_protos() and port == self.port

    def serve(self, c, server, port=None, env=None):
        """Starts the class's server; returns once it listens on the class's port."""
        c.run.spawn(SERVER, server, f"{self.name}-server", env=env)
        wait_port(c.run, SERVER, self.listens(c), port or self.port)

    def listens(self, c):
        """The address the class's server listens on."""
        return c.run.ip[SERVER]

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


class Ipsec(Tunnel):
    """strongSwan, IKEv2 and ESP: ESP in user space over a TUN device (the kernel-libipsec
    plugin, as this kernel has no XFRM), which needs it UDP-encapsulated, so IKE starts on UDP
    500 and moves to 4500 with ESP. The inner addresses are on each side's loopback."""
    name, proto, port = "ipsec", "UDP", 4500
    PORTS = (500, 4500)
    INNER = {SERVER: "10.15.0.1", CLIENT: "10.15.0.2"}
    CHARON = "/usr/lib/ipsec/charon"
    packages = ("strongswan-charon", "strongswan-swanctl", "libcharon-extra-plugins",
                "libstrongswan-standard-plugins")
    tools = ("swanctl", CHARON)
    PLUGINS = ("random nonce openssl pem pkcs1 pkcs8 x509 revocation constraints pubkey kdf "
               "kernel-libipsec kernel-netlink socket-default vici")  # libipsec before netlink
    IKE = ["aes256-sha256-modp2048", "aes128gcm16-prfsha256-x25519",
           "chacha20poly1305-prfsha256-x25519", "aes256gcm16-prfsha384-ecp384"]
    ESP = ["aes128gcm16", "aes256gcm16", "chacha20poly1305", "aes128-sha256"]
    AUTH = ["psk", "pubkey"]

    def owns(self, proto, port):
        return proto == "UDP" and port in self.PORTS

    def start(self, c):
        r, pki = c.run, c.pki
        ike, esp, auth = c.rng.choice(self.IKE), c.rng.choice(self.ESP), c.rng.choice(self.AUTH)
        ids = {SERVER: "server", CLIENT: "CN=client"}  # the certificates' DNS name and subject
        keys = {SERVER: (pki.server_crt, pki.server_key), CLIENT: (pki.client_crt, pki.client_key)}
        psk = f"lab-{c.rng.getrandbits(64):x}"
        for side, other in ((SERVER, CLIENT), (CLIENT, SERVER)):
            d = c.path(f"ipsec-{side}")
            for sub in ("x509ca", "private"):
                os.makedirs(os.path.join(d, sub), exist_ok=True)
            os.symlink(pki.ca, os.path.join(d, "x509ca", "ca.crt"))
            os.symlink(keys[side][1], os.path.join(d, "private", "key.pem"))
            vici = f"unix://{d}/charon.vici"
            conf = c.write(f"ipsec-{side}/strongswan.conf", f"""charon {{
  load = {self.PLUGINS}
  plugins {{ vici {{ socket = {vici} }}
    kernel-libipsec {{ mtu = {r.cond.mtu - 80} }} }}
  filelog {{ lab {{ path = {d}/charon.log
    default = 1 }} }}
}}
""")
            ends = f"local_addrs = {r.ip[SERVER]}" if side == SERVER else f"remote_addrs = {r.ip[SERVER]}"
            cert = f"certs = {keys[side][0]}" if auth == "pubkey" else ""
            c.write(f"ipsec-{side}/swanctl.conf", f"""connections {{ lab {{
  version = 2
  {ends}
  encap = yes
  proposals = {ike}
  local {{ auth = {auth}
    id = {ids[side]}
    {cert} }}
  remote {{ auth = {auth}
    id = {ids[other]} }}
  children {{ lab {{ local_ts = {self.INNER[side]}/32
    remote_ts = {self.INNER[other]}/32
    esp_proposals = {esp} }} }}
}} }}
secrets {{ ike-lab {{ id-1 = server
  id-2 = CN=client
  secret = "{psk}" }} }}
""")
            r.exec(side, ["ip", "addr", "add", f"{self.INNER[side]}/32", "dev", "lo"])
            # charon insists on its pid file in /run: a /run of its own.
            r.spawn(side, ["unshare", "-m", "sh", "-c", f"mount -t tmpfs lab /run && exec {self.CHARON}"],
                    f"charon-{side}", env=dict(os.environ, STRONGSWAN_CONF=conf))
            wait_for(lambda: os.path.exists(f"{d}/charon.vici"), 15, "charon")
            r.exec(side, ["swanctl", "--load-all", "--uri", vici], env=dict(os.environ, SWANCTL_DIR=d))
        r.exec(CLIENT, ["swanctl", "--initiate", "--child", "lab", "--timeout", "20", "--uri",
                        f"unix://{c.path('ipsec-client')}/charon.vici"], timeout=30)
        wait_ping(r, self.INNER[SERVER])
        return {"ike": ike, "esp": esp, "auth": auth}


class OpenConnect(Tunnel):
    """ocserv and openconnect (the AnyConnect protocol): a TLS channel, and DTLS on the same
    port unless the run draws it off. Client certificates of the lab's PKI authenticate."""
    name, port = "openconnect", 443
    protos = ("TCP", "UDP")
    INNER = {SERVER: "10.16.0.1"}
    packages, tools = ("ocserv", "openconnect"), ("ocserv", "openconnect")
    TLS = {"1.2": ":-VERS-TLS1.3", "1.3": ""}
    # openconnect's vpnc-script would edit the host's resolv.conf: this one only sets the
    # tun device up.
    SCRIPT = """#!/bin/sh
[ "$reason" = connect ] || exit 0
ip link set dev "$TUNDEV" mtu "$INTERNAL_IP4_MTU" up
ip addr add "$INTERNAL_IP4_ADDRESS/32" dev "$TUNDEV"
ip route add 10.16.0.0/24 dev "$TUNDEV"
"""

    def start(self, c):
        r, pki = c.run, c.pki
        tls, dtls = c.rng.choice(sorted(self.TLS)), c.rng.random() < 0.75
        conf = c.write("ocserv.conf", f"""auth = "certificate"
cert-user-oid = 2.5.4.3
listen-host = {r.ip[SERVER]}
tcp-port = {self.port}
udp-port = {self.port}
run-as-user = nobody
run-as-group = nogroup
socket-file = {c.path('ocserv.sock')}
pid-file = {c.path('ocserv.pid')}
server-cert = {pki.server_crt}
server-key = {pki.server_key}
ca-cert = {pki.ca}
isolate-workers = false
use-occtl = false
max-clients = 8
keepalive = 30
dpd = 60
try-mtu-discovery = false
tls-priorities = "NORMAL:%SERVER_PRECEDENCE:-VERS-SSL3.0:-VERS-TLS1.0:-VERS-TLS1.1{self.TLS[tls]}"
auth-timeout = 60
cookie-timeout = 300
device = vpns
predictable-ips = true
ipv4-network = 10.16.0.0
ipv4-netmask = 255.255.255.0
route = 10.16.0.0/255.255.255.0
""")
        self.serve(c, ["ocserv", "-f", "-c", conf])
        script = c.write("openconnect-script", self.SCRIPT)
        os.chmod(script, 0o755)
        r.spawn(CLIENT, ["openconnect", "--non-inter", "--certificate", pki.client_crt, "--sslkey",
                         pki.client_key, "--cafile", pki.ca, "--script", script,
                         *([] if dtls else ["--no-dtls"]), f"{r.ip[SERVER]}:{self.port}"],
                "openconnect-client")
        wait_ping(r, self.INNER[SERVER])
        return {"tls": tls, "dtls": dtls}


class Fastd(Tunnel):
    name, proto, port = "fastd", "UDP", 10000
    INNER = {SERVER: "10.17.0.1", CLIENT: "10.17.0.2"}
    packages, tools = ("fastd",), ("fastd",)
    # Its MTU: the link's less its overhead (below 1216, fastd v22 aborts on a handshake).
    METHODS = ["salsa2012+umac", "salsa2012+gmac", "aes128-gcm"]

    def start(self, c):
        r = c.run
        method = c.rng.choice(self.METHODS)
        keys = {}
        for side in (SERVER, CLIENT):
            out = dict(line.split(": ") for line in sh(["fastd", "--generate-key"]).splitlines()
                       if line.startswith(("Secret: ", "Public: ")))
            keys[side] = out["Secret"], out["Public"]
        inner = self.INNER
        for side, other in ((SERVER, CLIENT), (CLIENT, SERVER)):
            remote = f" remote {r.ip[SERVER]}:{self.port};" if side == CLIENT else ""
            conf = c.write(f"fastd-{side}.conf", f"""log level info;
interface "fastd{side[0]}";
mode tun;
method "{method}";
{f'bind {r.ip[SERVER]}:{self.port};' if side == SERVER else ''}
secret "{keys[side][0]}";
mtu {r.cond.mtu - 60};
on up "ip addr add {inner[side]} peer {inner[other]} dev $INTERFACE && ip link set $INTERFACE up";
peer "{other}" {{ key "{keys[other][1]}";{remote} }}
""")
            r.spawn(side, ["fastd", "--config", conf], f"fastd-{side}")
            time.sleep(0.3)
        wait_ping(r, inner[SERVER])
        return {"method": method}


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
    """shadowsocks-libev, plain or through a SIP003 plugin that dresses its stream up:
    simple-obfs (as an HTTP upgrade or a TLS session), or v2ray-plugin (WebSocket in TLS)."""
    port = 8388
    CIPHERS = ["chacha20-ietf-poly1305", "aes-256-gcm", "aes-128-gcm"]
    PLUGINS = {None: ((), ()), "obfs": (("simple-obfs",), ("obfs-server", "obfs-local")),
               "v2ray": (("shadowsocks-v2ray-plugin",), ("ss-v2ray-plugin",))}

    def __init__(self, plugin=None):
        self.plugin = plugin
        self.name = "shadowsocks" + (f"-{plugin}" if plugin else "")
        packages, tools = self.PLUGINS[plugin]
        self.packages = ("shadowsocks-libev",) + packages
        self.tools = ("ss-server", "ss-local") + tools

    def plugin_args(self, c):
        """The plugin options of the server and of the client, and the run's settings."""
        if self.plugin == "obfs":
            obfs = c.rng.choice(["http", "tls"])
            return (["--plugin", "obfs-server", "--plugin-opts", f"obfs={obfs}"],
                    ["--plugin", "obfs-local", "--plugin-opts", f"obfs={obfs};obfs-host=server"],
                    {"obfs": obfs})
        if self.plugin == "v2ray":
            path = f"/{c.rng.getrandbits(32):08x}"
            return (["--plugin", "ss-v2ray-plugin", "--plugin-opts",
                     f"server;tls;host=server;path={path};cert={c.pki.server_crt};key={c.pki.server_key}"],
                    ["--plugin", "ss-v2ray-plugin", "--plugin-opts",
                     f"tls;host=server;path={path};cert={c.pki.ca}"], {})
        return [], [], {}

    def start(self, c):
        r = c.run
        cipher = c.rng.choice(self.CIPHERS)
        srv_plugin, cli_plugin, settings = self.plugin_args(c)
        self.start_pair(c, ["ss-server", "-s", r.ip[SERVER], "-p", self.port, "-k", "labpass", "-m",
                            cipher, *srv_plugin],
                        ["ss-local", "-s", r.ip[SERVER], "-p", self.port, "-b", "127.0.0.1", "-l",
                         LOCAL_PORT, "-k", "labpass", "-m", cipher, *cli_plugin])
        return {"cipher": cipher, **settings}


class Obfs4(Proxy):
    """obfs4proxy, the Tor pluggable transport, as a managed server and client: the server
    forwards to the origin as if it were a Tor ORPort; the client is a SOCKS5 proxy on a port
    of its choosing, told the bridge's certificate and IAT mode as SOCKS5 credentials."""
    name, port = "obfs4", 9443
    packages, tools = ("obfs4proxy",), ("obfs4proxy",)

    def start(self, c):
        r = c.run
        iat = c.rng.choice([0, 1, 2])  # inter-arrival timing obfuscation: off, on, paranoid
        pt = {"TOR_PT_MANAGED_TRANSPORT_VER": "1"}
        state = {side: c.path(f"obfs4-{side}") for side in (SERVER, CLIENT)}
        self.serve(c, ["obfs4proxy", "-enableLogging"], env=dict(
            os.environ, **pt, TOR_PT_STATE_LOCATION=state[SERVER], TOR_PT_SERVER_TRANSPORTS="obfs4",
            TOR_PT_SERVER_BINDADDR=f"obfs4-{r.ip[SERVER]}:{self.port}",
            TOR_PT_SERVER_TRANSPORT_OPTIONS=f"obfs4:iat-mode={iat}",
            TOR_PT_ORPORT=f"127.0.0.1:{ORIGIN_PORT}"))
        with open(os.path.join(state[SERVER], "obfs4_bridgeline.txt")) as f:
            cert = [w for w in f.read().split() if w.startswith("cert=")][-1]
        r.spawn(CLIENT, ["obfs4proxy", "-enableLogging"], "obfs4-client", env=dict(
            os.environ, **pt, TOR_PT_STATE_LOCATION=state[CLIENT], TOR_PT_CLIENT_TRANSPORTS="obfs4"))

        def socks_port():  # "CMETHOD obfs4 socks5 127.0.0.1:PORT" on its stdout
            with open(c.path("obfs4-client.log")) as f:
                return [line.split(":")[-1] for line in f if line.startswith("CMETHOD obfs4")]
        wait_for(socks_port, 10, "obfs4proxy's SOCKS port")
        c.socks = (socks_port()[0].strip(), f"{cert};:iat-mode={iat}")
        return {"iat_mode": iat}

    def work(self, c):
        port, args = c.socks  # the bridge's arguments, split across SOCKS5 user and password
        c.fetch_all(f"http://{c.run.ip[SERVER]}:{self.port}", "--socks5", f"127.0.0.1:{port}",
                    "--proxy-user", args)


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


def sshd(c, listen):
    """An sshd of the run's own, listening on `listen`, with host and user keys of a type
    drawn for the run; returns its command, the options of its clients, and the key type."""
    kind = c.rng.choice(["ed25519", "ecdsa", "rsa"])
    host_key, user_key = c.path("ssh-host-key"), c.path("ssh-user-key")
    for k in (host_key, user_key):
        if not os.path.exists(k):
            subprocess.run(["ssh-keygen", "-q", "-t", kind, "-N", "", "-f", k], check=True)
    conf = c.write("sshd_config", f"ListenAddress {listen}\nHostKey {host_key}\n"
                   f"AuthorizedKeysFile {user_key}.pub\nPermitRootLogin prohibit-password\n"
                   "StrictModes no\nPasswordAuthentication no\nUsePAM no\nPidFile none\n"
                   "Subsystem sftp internal-sftp\n")
    os.makedirs("/run/sshd", exist_ok=True)
    return (["/usr/sbin/sshd", "-D", "-e", "-f", conf],
            ["-i", user_key, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
             "-o", "BatchMode=yes"], kind)


class SshSocks(Proxy):
    name, port = "ssh-socks", 22
    packages, tools = ("openssh-server", "openssh-client"), ("ssh", "ssh-keygen")

    def start(self, c):
        r = c.run
        server, options, kind = sshd(c, r.ip[SERVER])
        self.start_pair(c, server, ["ssh", "-N", "-D", f"127.0.0.1:{LOCAL_PORT}", *options,
                                    f"root@{r.ip[SERVER]}"])
        return {"key": kind}


class V2RayVmess(Proxy):
    name, port = "v2ray-vmess", 10086
    packages, tools = ("v2ray",), ("v2ray",)
    SECURITY = ["aes-128-gcm", "chacha20-poly1305"]

    def streams(self, c):
        """The server's and the client's streamSettings: VMess straight over TCP."""
        return {}, {}

    def start(self, c):
        r = c.run
        user = {"id": str(uuid.UUID(int=c.rng.getrandbits(128), version=4)), "alterId": 0,
                "security": c.rng.choice(self.SECURITY)}
        srv_stream, cli_stream = self.streams(c)
        srv = c.write("v2ray-server.json", json.dumps({
            "log": {"loglevel": "warning"},
            "inbounds": [{"listen": r.ip[SERVER], "port": self.port, "protocol": "vmess",
                          "settings": {"clients": [user]}, **srv_stream}],
            "outbounds": [{"protocol": "freedom"}]}))
        cli = c.write("v2ray-client.json", json.dumps({
            "log": {"loglevel": "warning"},
            "inbounds": [{"listen": "127.0.0.1", "port": LOCAL_PORT, "protocol": "socks"}],
            "outbounds": [{"protocol": "vmess", "settings": {"vnext": [
                {"address": r.ip[SERVER], "port": self.port, "users": [user]}]}, **cli_stream}]}))
        self.start_pair(c, ["v2ray", "-config", srv], ["v2ray", "-config", cli])
        return {"security": user["security"]}


class V2RayWsTls(V2RayVmess):
    """VMess over WebSocket inside TLS (the usual way to hide it behind a web server)."""
    name, port = "v2ray-ws-tls", 10443

    def streams(self, c):
        ws = {"network": "ws", "security": "tls",
              "wsSettings": {"path": f"/{c.rng.getrandbits(32):08x}"}}
        return ({"streamSettings": dict(ws, tlsSettings={"certificates": [
                    {"certificateFile": c.pki.server_crt, "keyFile": c.pki.server_key}]})},
                {"streamSettings": dict(ws, tlsSettings={"serverName": "server", "disableSystemRoot": True,
                                                         "certificates": [{"usage": "verify",
                                                                           "certificateFile": c.pki.ca}]})})


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


# ---- applications ------------------------------------------------------------------------

# The start of the Python clients: argv is the server's address, the CA, the TLS version
# drawn (1.2 or 1.3), the pause, then the client's own arguments.
PY_TLS = """import base64, socket, ssl, sys, time
addr, ca, tls, pause, args = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), sys.argv[5:]
ctx = ssl.create_default_context(cafile=ca)
if tls == "1.2":
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
def tls_to(port, sock=None):  # on sock, or a new connection; the certificate names "server"
    return ctx.wrap_socket(sock or socket.create_connection((addr, port), 30), server_hostname="server")
"""


class App(LabClass):
    """An application over TLS (or SSH): its server listens on every address, so that a tunnel
    carrying it reaches it at its inner address; its client goes to c.server_addr."""
    family = "app"
    TLS = ["1.2", "1.3"]

    def listens(self, c):
        return "127.0.0.1"


class Https(App):
    port = 443
    packages, tools = ("nginx", "curl"), ("nginx", "curl")
    CURL_TLS = {"1.2": ["--tlsv1.2", "--tls-max", "1.2"], "1.3": ["--tlsv1.3"]}

    def __init__(self, http):
        self.http = http
        self.name = f"https-{http}"

    def nginx(self, c):
        pki = c.pki
        conf = c.write("nginx.conf", f"user root;\nworker_processes 1;\npid {c.path('nginx.pid')};\n"
                       f"error_log {c.path('nginx.err')};\nevents {{}}\nhttp {{\n"
                       f"  access_log {c.path('nginx.access')};\n  server {{\n"
                       f"    listen 443 ssl http2;\n    root {c.path('www')};\n"
                       f"    ssl_certificate {pki.server_crt};\n    ssl_certificate_key {pki.server_key};\n"
                       "    ssl_protocols TLSv1.2 TLSv1.3;\n  }\n}\n")
        self.serve(c, ["nginx", "-c", conf, "-g", "daemon off;"])

    def start(self, c):
        self.nginx(c)
        c.tls = c.rng.choice(self.TLS)
        return {"tls": c.tls}

    def work(self, c):
        http = "--http1.1" if self.http == "http1" else "--http2"
        c.fetch_all("https://server", http, *self.CURL_TLS[c.tls], "--cacert", c.pki.ca, "--resolve",
                    f"server:443:{c.server_addr}")


HLS_CLIENT = """import http.client, re
conn = http.client.HTTPConnection("server", 443)
conn.sock = tls_to(443)  # HTTP/1.1 on one kept-alive TLS connection
def get(path):
    conn.request("GET", path)
    r = conn.getresponse()
    body = r.read()
    if r.status != 200:
        sys.exit(f"{path}: HTTP {r.status}")
    return body
playlist = get("/video/index.m3u8").decode()
start, played = time.time(), 0.0
for seconds, segment in re.findall(r"#EXTINF:([0-9.]+),\\s*\\n(\\S+)", playlist):
    get("/video/" + segment)
    played += float(seconds)
    time.sleep(max(0.0, start + played - 6 - time.time()))  # a player's 6 s of buffer
"""


class HttpsVideo(Https):
    """HLS: a short test video (ffmpeg, H.264 and AAC in 2 s segments) that the client plays:
    the playlist, then the segments at playback pace once 6 s are buffered."""
    packages, tools = ("nginx", "ffmpeg"), ("nginx", "ffmpeg")
    QUALITIES = [("640x360", "800k"), ("854x480", "1400k"), ("1280x720", "2800k")]
    SECONDS = 14

    def __init__(self):
        super().__init__("video")

    def start(self, c):
        size, rate = c.rng.choice(self.QUALITIES)
        video = c.path("www/video")
        os.makedirs(video)
        # Noise, so that the encoder spends the bitrate it is given.
        sh(["ffmpeg", "-loglevel", "error", "-f", "lavfi", "-i",
            f"testsrc2=size={size}:rate=25:duration={self.SECONDS}", "-f", "lavfi", "-i",
            f"sine=frequency={c.rng.randint(200, 900)}:duration={self.SECONDS}", "-vf",
            "noise=alls=25:allf=t", "-c:v", "libx264", "-preset", "ultrafast", "-b:v", rate,
            "-maxrate", rate, "-bufsize", rate, "-g", "50", "-c:a", "aac", "-b:a", "96k", "-f", "hls",
            "-hls_time", "2", "-hls_playlist_type", "vod", "-hls_segment_filename",
            f"{video}/seg%02d.ts", f"{video}/index.m3u8"], timeout=120)
        self.nginx(c)
        c.tls = c.rng.choice(self.TLS)
        return {"tls": c.tls, "size": size, "bitrate": rate}

    def work(self, c):
        c.python_client(HLS_CLIENT, c.tls)


class MqttTls(App):
    name, port = "mqtt-tls", 8883
    packages, tools = ("mosquitto", "mosquitto-clients"), ("mosquitto", "mosquitto_pub")

    def start(self, c):
        pki = c.pki
        conf = c.write("mosquitto.conf", f"per_listener_settings false\nallow_anonymous true\n"
                       f"persistence false\nuser root\nlistener {self.port}\ncafile {pki.ca}\n"
                       f"certfile {pki.server_crt}\nkeyfile {pki.server_key}\n")
        self.serve(c, ["mosquitto", "-c", conf])
        return {}

    def work(self, c):
        r = c.run
        tls = ["-h", c.server_addr, "-p", self.port, "--cafile", c.pki.ca]
        count = len(c.blobs) * 4
        r.spawn(CLIENT, ["mosquitto_sub", *tls, "-t", "lab/#", "-C", count, "-W", 120], "mqtt-sub")
        time.sleep(0.5)
        for i in range(count):
            blob = c.path(os.path.join("www", c.blobs[i % len(c.blobs)]))
            size = min(os.path.getsize(blob), 200_000)
            r.exec(CLIENT, ["bash", "-c", f"head -c {size} {blob} | mosquitto_pub "
                            + " ".join(map(str, tls)) + f" -t lab/{i} -s"])
            time.sleep(r.cond.pause)


class DnsOverTls(App):
    name, port = "dns-over-tls", 853
    packages, tools = ("unbound", "knot-dnsutils"), ("unbound", "kdig")

    def start(self, c):
        pki = c.pki
        names = "".join(f'local-data: "h{i}.lab. 300 IN A 10.1.{i // 250}.{i % 250 + 1}"\n'
                        f"local-data: 'h{i}.lab. 300 IN TXT \"{'x' * (1 + i * 7 % 200)}\"'\n"
                        for i in range(64))
        conf = c.write("unbound.conf", "server:\n interface: 0.0.0.0@853\n tls-port: 853\n"
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
            r.exec(CLIENT, ["kdig", f"@{c.server_addr}", f"+tls-ca={c.pki.ca}", "+tls-hostname=server",
                            "+keepopen", *args])
            time.sleep(r.cond.pause)


IMAP_CLIENT = """import imaplib
class Imaps(imaplib.IMAP4_SSL):
    def _create_socket(self, timeout):
        return tls_to(self.port)
m = Imaps(addr, 993)
m.login("lab", "labpass")
for path in args:  # each blob (up to 500 KB) appended as a message, then all read back
    body = base64.encodebytes(open(path, "rb").read(500_000)).decode()
    msg = f"From: lab@server\\nTo: lab@server\\nSubject: {path}\\nContent-Transfer-Encoding: base64\\n\\n{body}"
    m.append("INBOX", None, None, msg.replace("\\n", "\\r\\n").encode())
    time.sleep(pause)
m.select("INBOX")
for num in m.search(None, "ALL")[1][0].split():
    m.fetch(num, "(RFC822)")
    time.sleep(pause)
m.logout()
"""


class Imaps(App):
    """Dovecot's IMAP over TLS (port 993), one user; Python's imaplib appends the blobs as
    messages and fetches them back."""
    name, port = "imaps", 993
    packages, tools = ("dovecot-imapd",), ("dovecot",)

    def start(self, c):
        d = c.path("dovecot")
        os.makedirs(f"{d}/home/lab")
        os.chown(f"{d}/home/lab", 65534, 65534)  # the mail's owner, nobody (dovecot refuses root)
        tls = c.rng.choice(self.TLS)
        conf = c.write("dovecot/dovecot.conf", f"""protocols = imap
listen = *
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
ssl = required
ssl_cert = <{c.pki.server_crt}
ssl_key = <{c.pki.server_key}
ssl_dh = </usr/share/dovecot/dh.pem
ssl_min_protocol = TLSv1.2
auth_mechanisms = plain
passdb {{
  driver = static
  args = password=labpass
}}
userdb {{
  driver = static
  args = uid=65534 gid=65534 home={d}/home/%u
}}
mail_location = maildir:~/Maildir
service imap-login {{
  inet_listener imap {{
    port = 0
  }}
}}
""")
        self.serve(c, ["dovecot", "-F", "-c", conf])
        c.tls = tls
        return {"tls": tls}

    def work(self, c):
        c.python_client(IMAP_CLIENT, c.tls, *c.blob_paths())


XMPP_CLIENT = """s, buf = socket.create_connection((addr, 5222), 30), b""
def until(mark):  # reads up to mark
    global buf
    while mark not in buf:
        data = s.recv(65536)
        if not data:
            sys.exit(f"xmpp: the server closed while waiting for {mark}")
        buf += data
    buf = buf[buf.index(mark) + len(mark):]
def stream():
    s.sendall(b"<?xml version='1.0'?><stream:stream to='server' xmlns='jabber:client' "
              b"xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>")
    until(b"</stream:features>")
stream()
s.sendall(b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
until(b"<proceed")
s, buf = tls_to(5222, s), b""
stream()
auth = base64.b64encode(b"\\0alice\\0labpass").decode()
s.sendall(f"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{auth}</auth>".encode())
until(b"<success")
stream()
s.sendall(b"<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
          b"<resource>lab</resource></bind></iq>")
until(b"</iq>")
s.sendall(b"<iq type='get' id='roster'><query xmlns='jabber:iq:roster'/></iq><presence/>")
until(b"roster")
for path in args:  # each blob (up to 200 KB) as chat messages to ourselves, which come back
    data = open(path, "rb").read(200_000)
    for i in range(0, len(data), 24_000):  # under prosody's limit on a stanza
        body = base64.b64encode(data[i:i + 24_000]).decode()
        s.sendall(f"<message to='alice@server' type='chat' id='m{i}'><body>{body}</body></message>".encode())
    time.sleep(pause)
s.sendall(b"<iq type='get' id='done'><ping xmlns='urn:xmpp:ping'/></iq>")
until(b"done")
s.sendall(b"</stream:stream>")
until(b"</stream:stream>")
"""


class Xmpp(App):
    """Prosody, client to server with STARTTLS on 5222; the client (a small one of the lab's
    own, in Python: stream, STARTTLS, SASL PLAIN, bind, roster, presence) chats with itself."""
    name, port = "xmpp", 5222
    packages, tools = ("prosody",), ("prosody",)

    def start(self, c):
        d = c.path("prosody")
        os.makedirs(f"{d}/server/accounts")  # the host "server" and its one user
        c.write("prosody/server/accounts/alice.dat", 'return { ["password"] = "labpass"; };\n')
        c.tls = c.rng.choice(self.TLS)
        conf = c.write("prosody/prosody.cfg.lua", f"""run_as_root = true
daemonize = false
pidfile = "{d}/prosody.pid"
data_path = "{d}"
log = {{ info = "{d}/prosody.log" }}
interfaces = {{ "*" }}
c2s_ports = {{ {self.port} }}
c2s_require_encryption = true
authentication = "internal_plain"
modules_enabled = {{ "roster", "saslauth", "tls", "disco", "ping", "presence", "offline" }}
modules_disabled = {{ "s2s" }}
ssl = {{ certificate = "{c.pki.server_crt}", key = "{c.pki.server_key}" }}
VirtualHost "server"
""")
        self.serve(c, ["prosody", "--config", conf, "-F"])
        return {"tls": c.tls}

    def work(self, c):
        c.python_client(XMPP_CLIENT, c.tls, *c.blob_paths())


class Sftp(App):
    """OpenSSH's sftp fetching the blobs and putting one back, in one session."""
    name, port = "sftp", 22
    packages, tools = ("openssh-server", "openssh-client"), ("sftp", "ssh-keygen")
    CIPHERS = ["chacha20-poly1305@openssh.com", "aes128-gcm@openssh.com", "aes256-gcm@openssh.com",
               "aes128-ctr"]

    def start(self, c):
        server, options, kind = sshd(c, "0.0.0.0")
        cipher = c.rng.choice(self.CIPHERS)
        self.serve(c, server)
        c.sftp = options + ["-c", cipher]
        return {"key": kind, "cipher": cipher}

    def work(self, c):
        got = c.path("sftp-got")
        os.makedirs(got)
        paths = c.blob_paths()
        batch = c.write("sftp.batch", "".join(f"get {p} {got}/\n" for p in paths)
                        + f"put {paths[0]} {got}/put.bin\n")
        c.run.exec(CLIENT, ["sftp", "-b", batch, *c.sftp, f"root@{c.server_addr}"], timeout=300)


class Ftps(App):
    """vsftpd, anonymous downloads over TLS: explicit (AUTH TLS on 21) or implicit (990); the
    passive data connections, in TLS too, go to ports of PASSIVE."""
    name, port = "ftps", 21
    packages, tools = ("vsftpd", "curl"), ("vsftpd", "curl")
    MODES = {"explicit": 21, "implicit": 990}
    PASSIVE = (40000, 40099)

    def owns(self, proto, port):
        return proto == "TCP" and (port in self.MODES.values()
                                   or self.PASSIVE[0] <= port <= self.PASSIVE[1])

    def start(self, c):
        mode, tls = c.rng.choice(sorted(self.MODES)), c.rng.choice(self.TLS)
        port = self.MODES[mode]
        empty = c.path("vsftpd-empty")
        os.makedirs(empty)
        conf = c.write("vsftpd.conf", f"""listen=YES
listen_ipv6=NO
listen_port={port}
background=NO
anonymous_enable=YES
local_enable=NO
write_enable=NO
anon_root={c.path('www')}
no_anon_password=YES
ssl_enable=YES
implicit_ssl={'YES' if mode == 'implicit' else 'NO'}
allow_anon_ssl=YES
force_anon_logins_ssl=YES
force_anon_data_ssl=YES
require_ssl_reuse=NO
ssl_ciphers=HIGH
rsa_cert_file={c.pki.server_crt}
rsa_private_key_file={c.pki.server_key}
pasv_min_port={self.PASSIVE[0]}
pasv_max_port={self.PASSIVE[1]}
secure_chroot_dir={empty}
seccomp_sandbox=NO
xferlog_enable=YES
vsftpd_log_file={c.path('vsftpd.log')}
""")
        self.serve(c, ["vsftpd", conf], port=port)
        c.ftps = (mode, port, tls)
        return {"mode": mode, "tls": tls}

    def work(self, c):
        mode, port, tls = c.ftps
        scheme = "ftps" if mode == "implicit" else "ftp"
        c.fetch_all(f"{scheme}://server:{port}", "--ssl-reqd", *Https.CURL_TLS[tls], "--cacert",
                    c.pki.ca, "--resolve", f"server:{port}:{c.server_addr}")


# ---- applications carried by tunnels -----------------------------------------------------

class Carried(LabClass):
    """An application inside a tunnel (the layout of ISCX VPN-nonVPN: the same applications
    with and without a VPN). Its flows are the tunnel's. The application's server starts
    first (it listens on every address), then the tunnel, then at once the workload, to the
    tunnel's inner server address: the tunnel's first packets carry the application."""
    family = "vpn+app"

    def __init__(self, tunnel, app):
        self.tunnel, self.app = tunnel, app
        self.name = f"{tunnel.name}+{app.name}"
        self.proto, self.port, self.protos = tunnel.proto, tunnel.port, tunnel.protos
        self.packages = tunnel.packages + app.packages
        self.tools = tunnel.tools + app.tools

    def owns(self, proto, port):
        # The flow that carries the application: not ipsec's IKE_SA_INIT on UDP 500.
        return self.tunnel.owns(proto, port) and port == self.tunnel.port

    def start(self, c):
        c.server_addr = self.tunnel.INNER[SERVER]
        app = self.app.start(c)
        return {"tunnel": self.tunnel.start(c), "app": app}

    def work(self, c):
        self.app.work(c)


TUNNELS = [OpenVpn("UDP"), OpenVpn("TCP"), WireGuard(), Nebula(), Tinc(), Ipsec(), OpenConnect(),
           Fastd()]
PROXIES = [Shadowsocks(), Shadowsocks("obfs"), Shadowsocks("v2ray"), Obfs4(), Stunnel(), SshSocks(),
           V2RayVmess(), V2RayWsTls(), Trojan()]
APPS = [Https("http1"), Https("http2"), HttpsVideo(), MqttTls(), DnsOverTls(), Imaps(), Xmpp(),
        Sftp(), Ftps()]
ALL = TUNNELS + PROXIES + APPS
CARRIERS = ("openvpn-udp", "wireguard", "ipsec")
CARRIED_APPS = ("https-http1", "https-http2", "mqtt-tls", "dns-over-tls", "imaps", "xmpp", "sftp")
CARRIED = [Carried(t, a) for t in ALL if t.name in CARRIERS for a in ALL if a.name in CARRIED_APPS]
BY_NAME = {c.name: c for c in ALL + CARRIED}
# The inner server addresses of the carrying tunnels: the run's server certificate must name
# them too for clients that check the address (mosquitto's).
INNER_SERVER_ADDRS = [t.INNER[SERVER] for t in TUNNELS if t.name in CARRIERS]
