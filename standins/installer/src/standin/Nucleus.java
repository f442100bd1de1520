package standin;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;
import javax.net.ssl.SSLSocketFactory;

/**
 * STAND-IN for the Greengrass nucleus as run by the service (alts/current/distro/bin/loader), reduced to
 * what matters here: it runs the FleetProvisioningByClaim plugin's behaviour once at start when the
 * device has no thing name yet, records the result in config/config.tlog, then keeps running.
 * Facts: greengrass-nucleus-and-fleet-provisioning.md §1 (KernelLifecycle) and §2 (plugin).
 */
public final class Nucleus {
    static final String NUCLEUS = "aws.greengrass.Nucleus";
    static final String PLUGIN = "aws.greengrass.FleetProvisioningByClaim";
    static final String[] REQUIRED = {"rootPath", "provisioningTemplate", "claimCertificatePath", "claimCertificatePrivateKeyPath", "rootCaPath", "iotDataEndpoint"};

    /** Timeouts and MqttExceptions: the nucleus retries the whole plugin (3 attempts in total). */
    static final class RetryableProvisioningException extends Exception {
        RetryableProvisioningException(String m, Throwable c) { super(m, c); }
    }

    /** A /rejected reply and the like: not retried, the device runs unprovisioned. */
    static final class DeviceProvisioningRuntimeException extends RuntimeException {
        DeviceProvisioningRuntimeException(String m) { super(m); }
    }

    /** Host mode: "systemctl stop" was asked for; nothing more is logged or recorded (like a SIGTERMed JVM). */
    static final class Stopped extends RuntimeException {
        Stopped() { super("nucleus STAND-IN stopped"); }
    }

    private final Ctx ctx;
    private final Path root;
    private final Path logFile;
    private volatile boolean stopped;
    private volatile Thread runner;
    private volatile Mqtt connection;

    Nucleus(Ctx ctx, Path root) {
        this.ctx = ctx;
        this.root = root;
        this.logFile = root.resolve("logs").resolve("greengrass.log");
    }

    Path root() {
        return root;
    }

    public static void main(String[] args) throws Exception {
        String r = System.getProperty("root");
        for (int k = 0; k < args.length; k++) {
            String a = args[k].toLowerCase(Locale.ROOT);
            if ((a.equals("--root") || a.equals("-r")) && k + 1 < args.length) r = args[++k];
        }
        if (r == null || r.isEmpty()) {
            System.err.println("standin.Nucleus: --root <dir> (or -Droot=<dir>) is required");
            System.exit(2);
        }
        new Nucleus(Ctx.process(), Paths.get(r).toAbsolutePath().normalize()).run();
    }

    synchronized void log(String level, String logger, String msg) {
        if (stopped) return;
        String line = Instant.now() + " [" + level + "] (" + Thread.currentThread().getName() + ") " + logger + ": " + msg + "\n";
        try {
            Files.createDirectories(logFile.getParent());
            Files.write(logFile, line.getBytes(StandardCharsets.UTF_8), StandardOpenOption.CREATE, StandardOpenOption.APPEND, StandardOpenOption.WRITE);
        } catch (IOException e) {
            ctx.err.print(line);
        }
    }

    private String env(String name) {
        return ctx.env(name);
    }

    /** Failure-injection settings: the environment, else what the installer persisted in <root>/.standin-env. */
    private String setting(String name) {
        String v = env(name);
        if (v != null) return v;
        Path f = root.resolve(".standin-env");
        try {
            if (Files.exists(f)) {
                for (String line : Files.readAllLines(f, StandardCharsets.UTF_8)) {
                    if (line.startsWith(name + "=")) return line.substring(name.length() + 1).trim();
                }
            }
        } catch (IOException ignored) { /* no setting */ }
        return null;
    }

    private long seconds(String name, long dflt) {
        String v = env(name);
        if (v == null) return dflt * 1000;
        return (long) (Double.parseDouble(v) * 1000);
    }

    /**
     * Runs until stopped: forever in process mode (SIGTERM ends the JVM), until {@link #stop} in the shared host mode.
     * Process mode only: alts/loader.pid names this JVM. In host mode there is no pid of its own to name (the host JVM
     * runs every device's nucleus), so no loader.pid is written: nothing may signal the host through a device's pid file.
     */
    void run() throws Exception {
        runner = Thread.currentThread();
        Files.createDirectories(root.resolve("alts"));
        Files.createDirectories(root.resolve("logs"));
        if (ctx.host == null) Files.write(root.resolve("alts").resolve("loader.pid"), (ProcessHandle.current().pid() + "\n").getBytes(StandardCharsets.US_ASCII));
        String k = "com.aws.greengrass.lifecyclemanager.KernelLifecycle";
        log("INFO", "com.aws.greengrass.lifecyclemanager.Kernel", "Launching Nucleus (STAND-IN). {root=" + root + ", pid=" + ProcessHandle.current().pid()
            + (ctx.host != null ? ", host=shared" : "") + "}");
        Path tlog = root.resolve("config").resolve("config.tlog");
        Config cfg = Config.readTlog(tlog);
        writeEffectiveConfig(cfg);
        if (ctx.host == null) Runtime.getRuntime().addShutdownHook(new Thread(this::shutdownActions, "shutdown"));
        ctx.out.println("Launched Nucleus successfully.");
        ctx.out.flush();

        String thing = cfg.getString("system", "thingName");
        if (thing != null && !thing.isEmpty()) {
            log("INFO", k, "Device already has a thing name; not running the provisioning plugin. {thingName=" + thing + "}");
        } else {
            List<Path> plugins = trustedPlugins();
            if (plugins.isEmpty()) {
                log("INFO", k, "No provisioning plugin in plugins/trusted. Running Greengrass without provisioning");
            } else if (plugins.size() > 1) {
                log("ERROR", k, "Multiple provisioning plugins found " + plugins + ". Greengrass supports only one");
                throw new RuntimeException("Multiple provisioning plugins found " + plugins);
            } else {
                runProvisioningPlugin(cfg, tlog);
            }
        }
        while (!stopped) {
            try {
                Thread.sleep(60_000);
            } catch (InterruptedException e) {
                if (stopped) return;
                throw e;
            }
        }
    }

    /** What the process-mode shutdown hook does (SIGTERM): log it, write the effective config. */
    private void shutdownActions() {
        log("INFO", "com.aws.greengrass.lifecyclemanager.Kernel", "Shutting down Nucleus (STAND-IN)");
        try { writeEffectiveConfig(Config.readTlog(root.resolve("config").resolve("config.tlog"))); } catch (Exception ignored) { /* best effort */ }
    }

    /**
     * Host mode "systemctl stop": the shutdown hook's work, then this nucleus logs and records nothing more, its MQTT
     * connection is closed and its thread interrupted. Waits up to waitMs for the thread to end; false if it did not.
     */
    boolean stop(long waitMs) throws InterruptedException {
        synchronized (this) {
            if (stopped) return waitFor(waitMs);
            Thread self = Thread.currentThread();
            String name = self.getName();
            self.setName("shutdown"); // the process-mode shutdown hook's thread name, in the log line
            try {
                shutdownActions();
            } finally {
                self.setName(name);
            }
            stopped = true;
        }
        Mqtt c = connection;
        if (c != null) c.close();
        Thread t = runner;
        if (t != null && t != Thread.currentThread()) t.interrupt();
        return waitFor(waitMs);
    }

    private boolean waitFor(long waitMs) throws InterruptedException {
        Thread t = runner;
        if (t == null || t == Thread.currentThread()) return true;
        t.join(waitMs);
        return !t.isAlive();
    }

    boolean stopped() {
        return stopped;
    }

    private void checkStopped() {
        if (stopped) throw new Stopped();
    }

    private List<Path> trustedPlugins() throws IOException {
        List<Path> out = new ArrayList<>();
        Path dir = root.resolve("plugins").resolve("trusted");
        if (!Files.isDirectory(dir)) return out;
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, "*.jar")) {
            for (Path p : ds) out.add(p);
        }
        return out;
    }

    synchronized void writeEffectiveConfig(Config cfg) throws IOException {
        Path p = root.resolve("config").resolve("effectiveConfig.yaml");
        Files.createDirectories(p.getParent());
        Path tmp = p.resolveSibling("effectiveConfig.yaml~tmp");
        Files.write(tmp, Yaml.dump(cfg.toMap()).getBytes(StandardCharsets.UTF_8));
        Files.move(tmp, p, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    }

    void runProvisioningPlugin(Config cfg, Path tlog) {
        String k = "com.aws.greengrass.lifecyclemanager.KernelLifecycle";
        log("INFO", k, "Running provisioning plugin. {pluginName=" + PLUGIN + "}");
        try {
            injectedProvisionFailure();
            int attempt = 0;
            long backoff = 1000;
            while (true) {
                attempt++;
                try {
                    provision(cfg, tlog);
                    return;
                } catch (RetryableProvisioningException e) {
                    if (attempt >= 3) throw new DeviceProvisioningRuntimeException("Provisioning failed after " + attempt + " attempts: " + e.getMessage());
                    long wait = ThreadLocalRandom.current().nextLong(backoff / 2, backoff + 1);
                    log("WARN", k, "Retrying provisioning plugin. {attempt=" + attempt + ", waitMs=" + wait + ", reason=" + e.getMessage() + "}");
                    Thread.sleep(wait);
                    backoff = Math.min(backoff * 2, 60_000);
                }
            }
        } catch (Exception e) {
            if (stopped) return; // host mode: stopped mid-provisioning, like a SIGTERMed JVM it says nothing more
            log("ERROR", k, "Caught exception while running provisioning plugin. Moving on to run Greengrass without provisioning. {reason=" + e.getClass().getSimpleName() + ": " + e.getMessage() + "}");
        }
    }

    private void injectedProvisionFailure() throws IOException {
        if ("provision".equals(setting("GG_STANDIN_FAIL"))) {
            throw new DeviceProvisioningRuntimeException("GG_STANDIN_FAIL=provision: injected RegisterThing rejection (stand-in)");
        }
        String until = setting("GG_STANDIN_FAIL_UNTIL_PROVISION");
        if (until != null) {
            int n = Integer.parseInt(until.trim());
            int attempts = Installer.bumpCounter(root.resolve(".standin-provision-attempts"));
            if (attempts < n) {
                throw new DeviceProvisioningRuntimeException("GG_STANDIN_FAIL_UNTIL_PROVISION=" + n + ": injected RegisterThing rejection on provisioning run " + attempts + " (stand-in)");
            }
        }
    }

    /** The plugin configuration as a case-insensitive map (the nucleus hands it over via Topics.toPOJO). */
    private static Map<String, Object> pluginConfig(Config cfg) {
        Map<String, Object> out = new LinkedHashMap<>();
        Object v = cfg.get("services", PLUGIN, "configuration");
        if (v instanceof Map) {
            @SuppressWarnings("unchecked")
            Map<String, Object> m = (Map<String, Object>) v;
            for (Map.Entry<String, Object> e : m.entrySet()) out.put(e.getKey().toLowerCase(Locale.ROOT), e.getValue());
        }
        return out;
    }

    private static String str(Map<String, Object> c, String key) {
        Object v = c.get(key.toLowerCase(Locale.ROOT));
        if (v == null || v instanceof Map || v instanceof List) return null;
        if (v instanceof Double && (Double) v == Math.rint((Double) v)) return Long.toString(((Double) v).longValue());
        String s = v.toString();
        return s.isEmpty() ? null : s;
    }

    private void provision(Config cfg, Path tlog) throws Exception {
        String plog = "com.aws.greengrass.FleetProvisioningByClaimPlugin";
        Map<String, Object> c = pluginConfig(cfg);
        for (String r : REQUIRED) {
            if (str(c, r) == null) throw new IllegalArgumentException("Required parameter " + r + " missing for the provisioning plugin");
        }
        String rootPath = str(c, "rootPath").replaceAll("/+$", "");
        String template = str(c, "provisioningTemplate");
        Path claimCert = Paths.get(str(c, "claimCertificatePath"));
        Path claimKey = Paths.get(str(c, "claimCertificatePrivateKeyPath"));
        String rootCa = str(c, "rootCaPath");
        String endpoint = str(c, "iotDataEndpoint");
        int port = str(c, "mqttPort") == null ? 8883 : Integer.parseInt(str(c, "mqttPort"));
        String clientId = str(c, "deviceId") != null ? str(c, "deviceId") : UUID.randomUUID().toString();
        Path certOut = Paths.get(str(c, "certificatePath") != null ? str(c, "certificatePath") : rootPath + "/thingCert.crt");
        Path keyOut = Paths.get(str(c, "privateKeyPath") != null ? str(c, "privateKeyPath") : rootPath + "/privKey.key");
        Map<String, String> params = new LinkedHashMap<>();
        Object tp = c.get("templateparameters");
        if (tp instanceof Map) {
            for (Map.Entry<?, ?> e : ((Map<?, ?>) tp).entrySet()) params.put(String.valueOf(e.getKey()), e.getValue() == null ? "" : scalarString(e.getValue()));
        }
        long timeout = seconds("GG_STANDIN_MQTT_TIMEOUT_SECONDS", 30);
        long retry = seconds("GG_STANDIN_CONNECT_RETRY_SECONDS", 5);

        SSLSocketFactory tls = Mqtt.tls(claimCert, claimKey, Paths.get(rootCa)); // unreadable/bad files: not retried
        Mqtt mqtt;
        while (true) {
            try {
                mqtt = Mqtt.connect(endpoint, port, clientId, tls, 30_000); // connect timeout: fixed 30 s
                break;
            } catch (Mqtt.ConnectFailed e) {
                checkStopped();
                // plugin >= 1.2.1: connection failures are retried forever, every 5 s
                log("WARN", plog, "Failed to connect to IoT Core, retrying in " + (retry / 1000.0) + " seconds. {endpoint=" + endpoint + ":" + port + ", reason=" + e.getCause() + "}");
                Thread.sleep(retry);
            }
        }
        connection = mqtt;
        if (stopped) {
            mqtt.close();
            throw new Stopped();
        }
        log("INFO", plog, "Connected to IoT Core. {endpoint=" + endpoint + ":" + port + ", clientId=" + clientId + "}");
        try {
            String create = "$aws/certificates/create/json";
            mqtt.subscribe(timeout, create + "/accepted", create + "/rejected");
            mqtt.publish(timeout, create, "");
            String[] res = mqtt.awaitMessage(Set.of(create + "/accepted", create + "/rejected"), timeout, "the CreateKeysAndCertificate response");
            if (res[0].endsWith("/rejected")) throw new DeviceProvisioningRuntimeException("CreateKeysAndCertificate rejected: " + describeError(res[1]));
            @SuppressWarnings("unchecked")
            Map<String, Object> keys = (Map<String, Object>) Json.parse(res[1]);
            String certificateId = String.valueOf(keys.get("certificateId"));
            try {
                checkStopped();
                writeSecret(certOut, String.valueOf(keys.get("certificatePem")));
                writeSecret(keyOut, String.valueOf(keys.get("privateKey")));
            } catch (IOException e) {
                throw new DeviceProvisioningRuntimeException("Failed to write the device certificate or private key: " + e);
            }
            log("INFO", plog, "Received certificate and wrote it to disk. {certificateId=" + certificateId + ", certificatePath=" + certOut + ", privateKeyPath=" + keyOut + "}");

            String provision = "$aws/provisioning-templates/" + template + "/provision/json";
            mqtt.subscribe(timeout, provision + "/accepted", provision + "/rejected");
            Map<String, Object> req = new LinkedHashMap<>();
            req.put("certificateOwnershipToken", keys.get("certificateOwnershipToken"));
            if (!params.isEmpty()) req.put("parameters", new LinkedHashMap<String, Object>(params));
            mqtt.publish(timeout, provision, Json.write(req));
            res = mqtt.awaitMessage(Set.of(provision + "/accepted", provision + "/rejected"), timeout, "the RegisterThing response");
            if (res[0].endsWith("/rejected")) throw new DeviceProvisioningRuntimeException("RegisterThing rejected: " + describeError(res[1]));
            @SuppressWarnings("unchecked")
            Map<String, Object> reg = (Map<String, Object>) Json.parse(res[1]);
            String thingName = String.valueOf(reg.get("thingName"));
            log("INFO", plog, "Received register thing response for thing name " + thingName);
            mqtt.disconnect();

            long now = System.currentTimeMillis();
            List<String> lines = new ArrayList<>();
            set(cfg, lines, now, new String[] {"system", "thingName"}, thingName);
            set(cfg, lines, now, new String[] {"system", "certificateFilePath"}, certOut.toString());
            set(cfg, lines, now, new String[] {"system", "privateKeyPath"}, keyOut.toString());
            set(cfg, lines, now, new String[] {"system", "rootCaPath"}, rootCa);
            String[][] nucleusKeys = {{"awsRegion", "awsRegion"}, {"iotDataEndpoint", "iotDataEndpoint"}, {"iotCredentialEndpoint", "iotCredEndpoint"}, {"iotRoleAlias", "iotRoleAlias"}};
            for (String[] nk : nucleusKeys) {
                String v = str(c, nk[0]);
                if (v != null) set(cfg, lines, now, new String[] {"services", NUCLEUS, "configuration", nk[1]}, v);
            }
            synchronized (this) {
                checkStopped(); // a stopped nucleus records nothing (stop() holds this lock while it stops)
                Config.appendTlog(tlog, lines);
            }
            log("INFO", "com.aws.greengrass.lifecyclemanager.KernelLifecycle", "Successfully provisioned the device; configuration updated. {thingName=" + thingName + "}");
        } catch (Mqtt.Timeout e) {
            mqtt.close();
            throw new RetryableProvisioningException(e.getMessage(), e);
        } catch (IOException e) {
            mqtt.close();
            throw new RetryableProvisioningException("MQTT error: " + e, e);
        } catch (RuntimeException e) {
            mqtt.disconnect();
            throw e;
        }
    }

    private static String scalarString(Object v) {
        if (v instanceof Double && (Double) v == Math.rint((Double) v)) return Long.toString(((Double) v).longValue());
        return v.toString();
    }

    private static void set(Config cfg, List<String> lines, long ts, String[] path, Object v) {
        cfg.setIfNewer(path, v, ts);
        lines.add(Config.tlogLine(ts, path, v));
    }

    private static String describeError(String payload) {
        try {
            @SuppressWarnings("unchecked")
            Map<String, Object> m = (Map<String, Object>) Json.parse(payload);
            return "statusCode=" + scalarString(m.get("statusCode")) + ", errorCode=" + m.get("errorCode") + ", errorMessage=" + m.get("errorMessage");
        } catch (RuntimeException e) {
            return payload.length() > 200 ? payload.substring(0, 200) : payload;
        }
    }

    /** Owner read/write only, parents created, overwritten on retry (like the plugin). Never world-readable, not even briefly. */
    static void writeSecret(Path p, String content) throws IOException {
        Path parent = p.toAbsolutePath().getParent();
        if (parent != null) Files.createDirectories(parent);
        Set<java.nio.file.attribute.PosixFilePermission> perms = PosixFilePermissions.fromString("rw-------");
        if (Files.exists(p)) Files.setPosixFilePermissions(p, perms);
        else Files.createFile(p, PosixFilePermissions.asFileAttribute(perms));
        Files.write(p, content.getBytes(StandardCharsets.UTF_8), StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE);
        Files.setPosixFilePermissions(p, perms);
    }
}
