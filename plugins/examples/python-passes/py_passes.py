#!/usr/bin/python3
# py-passes: a deepc pass plugin written in Python, with nothing but Debian's
# packages (python3-grpcio, python3-protobuf, python3-cryptography). It
# speaks the protocol of docs/plugins.md by hand: the go-plugin handshake
# with automatic mutual TLS, the health and controller services go-plugin
# expects, and deepc's PassPlugin service.
#
# Passes:
#   py-count-ops     analysis: how many ops of each kind every function has
#   py-set-norm-eps  transform: sets the eps of every rms_norm (option eps)
#
# build.sh installs it next to the protobuf modules it imports (generated
# from plugins/proto/deepc_plugin.proto and the two .proto files here).
#
# The interpreter is /usr/bin/python3 because that is the one Debian's
# packages are installed for; to use another, start the plugin from a
# wrapper script that execs it.

import base64
import collections
import datetime
import math
import os
import re
import sys
import threading
import traceback
from concurrent import futures

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

import controller_pb2
import deepc_plugin_pb2 as pb
import health_pb2

NAME = "py-passes"
VERSION = "0.1.0"

# The go-plugin handshake of deepc (plugins/wire.go).
MAGIC_COOKIE_KEY = "DEEPC_PLUGIN_MAGIC_COOKIE"
MAGIC_COOKIE_VALUE = "a3f1c2d4-deepc-pass-plugin"
CORE_PROTOCOL_VERSION = 1
API_VERSION = 1

DEFAULT_EPS = "1e-05"


class PassError(Exception):
    """A problem with the pass's input or options: the user's to fix."""


# An op line of the IR text form (ir.Print): results, " = ", the op name.
OP_LINE = re.compile(r"^    %\d+(?:, %\d+)* = ([a-z][a-z0-9_]*)\b")
FUNC_LINE = re.compile(r"^  func @(\S+?)\(")
EPS_ATTR = re.compile(r"\{eps = [^,}]+\}")


def count_ops(module, options):
    """Reports the op kinds of each function, most frequent first."""
    report = []
    func, counts = None, None
    for line in module.splitlines():
        m = FUNC_LINE.match(line)
        if m:
            func, counts = m.group(1), collections.Counter()
            continue
        if func is None:
            continue
        if line == "  }":
            kinds = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
            listed = ", ".join("%s %d" % kv for kv in kinds)
            report.append("py-count-ops: @%s has %d ops: %s" % (func, sum(counts.values()), listed))
            func = None
            continue
        m = OP_LINE.match(line)
        if m:
            counts[m.group(1)] += 1
    return module, "\n".join(report) + "\n"


def set_norm_eps(module, options):
    """Rewrites the {eps = ...} of every rms_norm line."""
    # deepc sends every declared option, the default when none was given.
    text = options["eps"]
    try:
        eps = float(text)
    except ValueError:
        raise PassError("option eps: %r is not a number" % text)
    if not math.isfinite(eps) or eps <= 0:
        raise PassError("option eps must be positive, got %s" % text)
    # repr prints the shortest text that reads back as the same float, and
    # always as a float ("2.0", not "2"): the attribute's type is kept.
    new = "{eps = %r}" % eps
    lines = module.split("\n")
    n = 0
    for i, line in enumerate(lines):
        m = OP_LINE.match(line)
        if not m or m.group(1) != "rms_norm":
            continue
        # Refuse what this simple rewrite does not understand rather than
        # guess: an rms_norm has exactly one attribute, eps.
        if len(EPS_ATTR.findall(line)) != 1:
            raise PassError("line %d: expected one {eps = ...} in: %s" % (i + 1, line.strip()))
        lines[i] = EPS_ATTR.sub(new, line)
        n += 1
    out = "\n".join(lines)
    return out, "py-set-norm-eps: %d norms now use eps = %r\n" % (n, eps)


PASSES = {
    "py-count-ops": (
        pb.PassInfo(
            name="py-count-ops",
            description="count the ops of each kind in every function (analysis; changes nothing)",
            anchor="after:dce",
        ),
        count_ops,
    ),
    "py-set-norm-eps": (
        pb.PassInfo(
            name="py-set-norm-eps",
            description="set the eps of every rms_norm",
            anchor="after:canonicalize",
            options=[pb.OptionInfo(name="eps", description="the new epsilon", default=DEFAULT_EPS, type="float")],
        ),
        set_norm_eps,
    ),
}


# --- the PassPlugin service --------------------------------------------


def manifest(request, context):
    return pb.PluginManifest(
        name=NAME,
        version=VERSION,
        api_version=API_VERSION,
        passes=[info for info, _ in PASSES.values()],
    )


def run_pass(request, context):
    # "pass" is a Python keyword: request.pass does not parse.
    name = getattr(request, "pass")
    if name not in PASSES:
        context.abort(grpc.StatusCode.NOT_FOUND, "%s has no pass %r" % (NAME, name))
    _, run = PASSES[name]
    # deepc's message names the plugin and the pass; the error says what.
    try:
        module, output = run(request.module, request.options)
    except PassError as e:
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(e))
    except Exception:
        context.abort(grpc.StatusCode.INTERNAL, "bug: " + traceback.format_exc())
    return pb.RunPassResponse(module=module, changed=module != request.module, output=output)


# --- what go-plugin's client expects besides ---------------------------


def health_check(request, context):
    # go-plugin pings the service named "plugin"; "" is the whole server.
    if request.service not in ("", "plugin"):
        context.abort(grpc.StatusCode.NOT_FOUND, "unknown service %r" % request.service)
    return health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.SERVING)


def unary(fn, request_type, response_type):
    return grpc.unary_unary_rpc_method_handler(
        fn,
        request_deserializer=request_type.FromString,
        response_serializer=response_type.SerializeToString,
    )


def server_certificate():
    """A fresh self-signed certificate and its key, as PEM, and the
    certificate as DER for the handshake line."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=365))
        # go-plugin's client checks the name "localhost" against the DNS
        # names of the certificate only (Go ignores the common name): without
        # this, every call fails with a TLS error.
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return key_pem, cert.public_bytes(serialization.Encoding.PEM), cert.public_bytes(serialization.Encoding.DER)


def listen(server, credentials):
    """Binds 127.0.0.1 to the first free port of deepc's range and returns
    the address. TCP rather than a Unix socket: deepc kills plugins with
    SIGKILL, which would leave a socket file behind every time."""
    low = int(os.environ.get("PLUGIN_MIN_PORT") or 10000)
    high = int(os.environ.get("PLUGIN_MAX_PORT") or 25000)
    for port in range(low, high + 1):
        address = "127.0.0.1:%d" % port
        try:
            if server.add_secure_port(address, credentials):
                return address
        except RuntimeError:  # newer grpcio raise where older return 0
            pass
    sys.exit("%s: no free TCP port in %d-%d" % (NAME, low, high))


def fail(message):
    print("%s: %s" % (NAME, message), file=sys.stderr)
    sys.exit(1)


def main():
    if os.environ.get(MAGIC_COOKIE_KEY) != MAGIC_COOKIE_VALUE:
        fail("this is a deepc pass plugin: deepc starts it (deepc compile --plugin %s)" % sys.argv[0])
    versions = os.environ.get("PLUGIN_PROTOCOL_VERSIONS", "").split(",")
    if str(API_VERSION) not in versions:
        fail("deepc speaks plugin API versions %s; this plugin speaks %d" % (",".join(versions), API_VERSION))
    client_cert = os.environ.get("PLUGIN_CLIENT_CERT")
    if not client_cert:
        fail("PLUGIN_CLIENT_CERT is not set: deepc starts plugins with automatic mutual TLS")

    key_pem, cert_pem, cert_der = server_certificate()
    credentials = grpc.ssl_server_credentials(
        [(key_pem, cert_pem)],
        root_certificates=client_cert.encode(),
        require_client_auth=True,
    )
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=4),
        options=[
            # Without this, gRPC lets a second server bind the same port,
            # and another plugin's server could answer deepc's calls.
            ("grpc.so_reuseport", 0),
            # A module's text grows with the model (600 KB for the full
            # DeepSeek-V3): lift gRPC's default limit of 4 MiB.
            ("grpc.max_receive_message_length", -1),
            ("grpc.max_send_message_length", -1),
        ],
    )

    def shutdown(request, context):
        # Stop once this answer is on its way; main then returns.
        threading.Thread(target=server.stop, args=(1,)).start()
        return controller_pb2.Empty()

    server.add_generic_rpc_handlers(
        (
            grpc.method_handlers_generic_handler(
                "deepc.plugin.v1.PassPlugin",
                {
                    "Manifest": unary(manifest, pb.ManifestRequest, pb.PluginManifest),
                    "RunPass": unary(run_pass, pb.RunPassRequest, pb.RunPassResponse),
                },
            ),
            grpc.method_handlers_generic_handler(
                "grpc.health.v1.Health",
                {"Check": unary(health_check, health_pb2.HealthCheckRequest, health_pb2.HealthCheckResponse)},
            ),
            grpc.method_handlers_generic_handler(
                "plugin.GRPCController",
                {"Shutdown": unary(shutdown, controller_pb2.Empty, controller_pb2.Empty)},
            ),
        )
    )
    address = listen(server, credentials)
    server.start()
    # Standard base64 without padding, as go-plugin decodes it.
    cert = base64.b64encode(cert_der).decode().rstrip("=")
    print("%d|%d|tcp|%s|grpc|%s" % (CORE_PROTOCOL_VERSION, API_VERSION, address, cert), flush=True)
    # deepc reads only the handshake from stdout; a stray print in a pass
    # would be lost there, so send it where deepc shows it on a failure.
    sys.stdout = sys.stderr
    server.wait_for_termination()


if __name__ == "__main__":
    main()
