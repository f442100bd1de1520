package standin;

import java.io.ByteArrayOutputStream;
import java.io.Closeable;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collection;
import java.util.List;
import java.util.Set;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.SSLSocketFactory;
import javax.net.ssl.TrustManagerFactory;

/** STAND-IN helper: a minimal MQTT 3.1.1 client over TLS with a client certificate (what the plugin's AWS CRT client does). */
final class Mqtt implements Closeable {
    /** A response or acknowledgement did not arrive in time (the plugin turns this into a retryable error). */
    static final class Timeout extends IOException {
        Timeout(String m) { super(m); }
    }

    /** The connection could not be established (TCP, TLS or CONNACK). The plugin retries these forever. */
    static final class ConnectFailed extends IOException {
        ConnectFailed(String m, Throwable cause) { super(m, cause); }
    }

    private final SSLSocket sock;
    private final InputStream in;
    private final OutputStream out;
    private int nextId = 1;
    private final List<String[]> inbox = new ArrayList<>();

    private Mqtt(SSLSocket sock) throws IOException {
        this.sock = sock;
        this.in = sock.getInputStream();
        this.out = sock.getOutputStream();
    }

    /** SSL context from PEM files: client cert + PKCS#1 RSA or PKCS#8 key, trusting the CA certificate(s) in rootCa. */
    static SSLSocketFactory tls(Path certPem, Path keyPem, Path rootCaPem) throws Exception {
        CertificateFactory cf = CertificateFactory.getInstance("X.509");
        Collection<? extends Certificate> chain;
        try (InputStream s = Files.newInputStream(certPem)) { chain = cf.generateCertificates(s); }
        if (chain.isEmpty()) throw new IllegalArgumentException("no certificate in " + certPem);
        PrivateKey key = readPrivateKey(keyPem);
        Collection<? extends Certificate> cas;
        try (InputStream s = Files.newInputStream(rootCaPem)) { cas = cf.generateCertificates(s); }
        if (cas.isEmpty()) throw new IllegalArgumentException("no certificate in rootCaPath " + rootCaPem);

        char[] pass = "standin".toCharArray();
        KeyStore ks = KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        ks.setKeyEntry("device", key, pass, chain.toArray(new Certificate[0]));
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(ks, pass);

        KeyStore ts = KeyStore.getInstance("PKCS12");
        ts.load(null, null);
        int n = 0;
        for (Certificate c : cas) ts.setCertificateEntry("ca" + (n++), c);
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(ts);

        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(kmf.getKeyManagers(), tmf.getTrustManagers(), null);
        return ctx.getSocketFactory();
    }

    /**
     * A PEM private key as the plugin's key files hold it: PKCS#1 RSA ("BEGIN RSA" label, what AWS IoT's
     * CreateKeysAndCertificate returns) or PKCS#8 RSA/EC. SEC1 EC keys ("BEGIN EC") are refused by name.
     */
    static PrivateKey readPrivateKey(Path p) throws Exception {
        String pem = new String(Files.readAllBytes(p), StandardCharsets.US_ASCII);
        // PEM labels built from parts: this file holds no key, and should not look as if it did.
        String label = "PRIVATE" + " KEY";
        if (pem.contains("BEGIN EC " + label)) {
            throw new IllegalArgumentException("private key " + p + " is a SEC1 EC key (BEGIN EC " + label
                + "); the stand-in reads PKCS#1 RSA and PKCS#8 keys");
        }
        boolean pkcs1 = pem.contains("-----BEGIN RSA " + label + "-----");
        String kind = pkcs1 ? "RSA " + label : label;
        String begin = "-----BEGIN " + kind + "-----";
        int b = pem.indexOf(begin);
        int e = pem.indexOf("-----END " + kind + "-----");
        if (b < 0 || e < 0) throw new IllegalArgumentException("private key " + p + " is not a PEM private key");
        byte[] der = Base64.getMimeDecoder().decode(pem.substring(b + begin.length(), e));
        if (pkcs1) {
            try {
                return KeyFactory.getInstance("RSA").generatePrivate(new PKCS8EncodedKeySpec(pkcs1ToPkcs8(der)));
            } catch (Exception x) {
                throw new IllegalArgumentException("private key " + p + " cannot be parsed as a PKCS#1 RSA key");
            }
        }
        PKCS8EncodedKeySpec spec = new PKCS8EncodedKeySpec(der);
        for (String alg : new String[] {"EC", "RSA"}) {
            try { return KeyFactory.getInstance(alg).generatePrivate(spec); } catch (Exception ignored) { /* try the next */ }
        }
        throw new IllegalArgumentException("private key " + p + " cannot be parsed as an EC or RSA PKCS#8 key");
    }

    /** Wraps a PKCS#1 RSAPrivateKey in a PKCS#8 PrivateKeyInfo (version 0, rsaEncryption with NULL parameters). */
    static byte[] pkcs1ToPkcs8(byte[] pkcs1) {
        byte[] version = {0x02, 0x01, 0x00};
        byte[] rsaAlgorithm = {0x30, 0x0d, 0x06, 0x09, 0x2a, (byte) 0x86, 0x48, (byte) 0x86, (byte) 0xf7, 0x0d, 0x01, 0x01,
            0x01, 0x05, 0x00};
        byte[] octets = derTlv(0x04, pkcs1);
        byte[] body = new byte[version.length + rsaAlgorithm.length + octets.length];
        System.arraycopy(version, 0, body, 0, version.length);
        System.arraycopy(rsaAlgorithm, 0, body, version.length, rsaAlgorithm.length);
        System.arraycopy(octets, 0, body, version.length + rsaAlgorithm.length, octets.length);
        return derTlv(0x30, body);
    }

    private static byte[] derTlv(int tag, byte[] value) {
        int n = value.length;
        byte[] len;
        if (n < 0x80) len = new byte[] {(byte) n};
        else if (n < 0x100) len = new byte[] {(byte) 0x81, (byte) n};
        else if (n < 0x10000) len = new byte[] {(byte) 0x82, (byte) (n >> 8), (byte) n};
        else len = new byte[] {(byte) 0x83, (byte) (n >> 16), (byte) (n >> 8), (byte) n};
        byte[] out = new byte[1 + len.length + n];
        out[0] = (byte) tag;
        System.arraycopy(len, 0, out, 1, len.length);
        System.arraycopy(value, 0, out, 1 + len.length, n);
        return out;
    }

    static Mqtt connect(String host, int port, String clientId, SSLSocketFactory f, int timeoutMs) throws ConnectFailed {
        Socket raw = new Socket();
        try {
            raw.connect(new InetSocketAddress(host, port), timeoutMs);
            SSLSocket s = (SSLSocket) f.createSocket(raw, host, port, true);
            SSLParameters params = s.getSSLParameters();
            params.setEndpointIdentificationAlgorithm("HTTPS"); // the server certificate must name the endpoint
            s.setSSLParameters(params);
            s.setSoTimeout(timeoutMs);
            s.startHandshake();
            Mqtt m = new Mqtt(s);
            ByteArrayOutputStream v = new ByteArrayOutputStream();
            str(v, "MQTT");
            v.write(4);          // protocol level 3.1.1
            v.write(0x02);       // clean session
            v.write(0); v.write(60); // keepalive 60 s
            str(v, clientId);
            m.send(0x10, v.toByteArray());
            int[] type = new int[1];
            byte[] body = m.read(type, System.currentTimeMillis() + timeoutMs);
            if (type[0] >> 4 != 2 || body.length < 2) throw new IOException("expected CONNACK, got packet type " + (type[0] >> 4));
            if (body[1] != 0) throw new IOException("CONNACK refused the connection, return code " + body[1]);
            return m;
        } catch (IOException e) {
            try { raw.close(); } catch (IOException ignored) { /* closing */ }
            throw new ConnectFailed("MQTT connect to " + host + ":" + port + " failed: " + e, e);
        }
    }

    private static void str(ByteArrayOutputStream b, String s) {
        byte[] d = s.getBytes(StandardCharsets.UTF_8);
        b.write(d.length >> 8);
        b.write(d.length & 0xff);
        b.write(d, 0, d.length);
    }

    private synchronized void send(int header, byte[] body) throws IOException {
        ByteArrayOutputStream p = new ByteArrayOutputStream();
        p.write(header);
        int len = body.length;
        do {
            int d = len % 128;
            len /= 128;
            if (len > 0) d |= 0x80;
            p.write(d);
        } while (len > 0);
        p.write(body, 0, body.length);
        out.write(p.toByteArray());
        out.flush();
    }

    private byte[] read(int[] type, long deadline) throws IOException {
        long left = deadline - System.currentTimeMillis();
        if (left <= 0) throw new Timeout("timed out");
        sock.setSoTimeout((int) Math.max(1, left));
        try {
            int h = in.read();
            if (h < 0) throw new EOFException("connection closed by the server");
            int len = 0, mul = 1, d;
            do {
                d = in.read();
                if (d < 0) throw new EOFException("connection closed by the server");
                len += (d & 0x7f) * mul;
                mul *= 128;
            } while ((d & 0x80) != 0);
            byte[] body = in.readNBytes(len);
            if (body.length != len) throw new EOFException("connection closed by the server");
            type[0] = h;
            return body;
        } catch (SocketTimeoutException e) {
            throw new Timeout("timed out");
        }
    }

    /** Reads until a packet of `want` type with `id` arrives; PUBLISHes received meanwhile go to the inbox. */
    private void await(int want, int id, long deadline, String what) throws IOException {
        while (true) {
            int[] type = new int[1];
            byte[] body;
            try {
                body = read(type, deadline);
            } catch (Timeout t) {
                throw new Timeout("timed out waiting for " + what);
            }
            int t = type[0] >> 4;
            if (t == 3) { onPublish(type[0], body); continue; }
            if (t == want && body.length >= 2 && (((body[0] & 0xff) << 8) | (body[1] & 0xff)) == id) return;
        }
    }

    private void onPublish(int header, byte[] body) throws IOException {
        int tl = ((body[0] & 0xff) << 8) | (body[1] & 0xff);
        String topic = new String(body, 2, tl, StandardCharsets.UTF_8);
        int off = 2 + tl;
        int qos = (header >> 1) & 3;
        if (qos > 0) {
            int pid = ((body[off] & 0xff) << 8) | (body[off + 1] & 0xff);
            off += 2;
            send(0x40, new byte[] {(byte) (pid >> 8), (byte) pid});
        }
        inbox.add(new String[] {topic, new String(body, off, body.length - off, StandardCharsets.UTF_8)});
    }

    void subscribe(long timeoutMs, String... topics) throws IOException {
        int id = nextId++;
        ByteArrayOutputStream v = new ByteArrayOutputStream();
        v.write(id >> 8);
        v.write(id & 0xff);
        for (String t : topics) { str(v, t); v.write(1); }
        send(0x82, v.toByteArray());
        await(9, id, System.currentTimeMillis() + timeoutMs, "SUBACK");
    }

    void publish(long timeoutMs, String topic, String payload) throws IOException {
        int id = publishNoWait(topic, payload);
        await(4, id, System.currentTimeMillis() + timeoutMs, "PUBACK");
    }

    /** A QoS 1 PUBLISH whose PUBACK nobody waits for (it arrives, and is skipped, while awaiting the reply); its id. */
    int publishNoWait(String topic, String payload) throws IOException {
        int id = nextId++;
        ByteArrayOutputStream v = new ByteArrayOutputStream();
        str(v, topic);
        v.write(id >> 8);
        v.write(id & 0xff);
        byte[] p = payload.getBytes(StandardCharsets.UTF_8);
        v.write(p, 0, p.length);
        send(0x32, v.toByteArray());
        return id;
    }

    /** The next message on one of `topics`: {topic, payload}. */
    String[] awaitMessage(Set<String> topics, long timeoutMs, String what) throws IOException {
        long deadline = System.currentTimeMillis() + timeoutMs;
        while (true) {
            for (int k = 0; k < inbox.size(); k++) {
                if (topics.contains(inbox.get(k)[0])) return inbox.remove(k);
            }
            int[] type = new int[1];
            byte[] body;
            try {
                body = read(type, deadline);
            } catch (Timeout t) {
                throw new Timeout("timed out waiting for " + what);
            }
            if (type[0] >> 4 == 3) onPublish(type[0], body);
        }
    }

    void disconnect() {
        try { send(0xE0, new byte[0]); } catch (IOException ignored) { /* best effort */ }
        close();
    }

    @Override
    public void close() {
        try { sock.close(); } catch (IOException ignored) { /* closing */ }
    }

    static X509Certificate firstCert(String pem) throws Exception {
        return (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(new java.io.ByteArrayInputStream(pem.getBytes(StandardCharsets.US_ASCII)));
    }
}
