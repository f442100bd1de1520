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
import java.util.concurrent.ThreadLocalRandom;
import javax.net.ssl.SSLSocketFactory;
import standin.RealFaults.DeviceProvisioningRuntimeException;
import standin.RealFaults.RetryableProvisioningException;

/**
 * STAND-IN for the Greengrass nucleus as run by the service (alts/current/distro/bin/loader), reduced to
 * what matters here: it runs the FleetProvisioningByClaim plugin's behaviour once at start when the
 * device has no thing name yet, records the result in config/config.tlog, then keeps running.
 * Facts: docs/facts/nucleus-and-plugin.md (KernelLifecycle, the plugin, the log layout).
 */
public final class Nucleus {
    static final String NUCLEUS = "aws.greengrass.Nucleus";
    static final String PLUGIN = Plugin.NAME;

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

    /**
     * One greengrass.log entry in the nucleus's text layout: `<instant, ms> [LEVEL] (thread) logger: message. {ctx}`,
     * then, with a cause, its stack trace as printStackTrace writes it (the cause lines a reader of the log sees).
     */
    synchronized void log(String level, String logger, String msg, Throwable cause) {
        if (stopped) return;
        StringBuilder line = new StringBuilder();
        line.append(Instant.ofEpochMilli(System.currentTimeMillis())).append(" [").append(level).append("] (")
            .append(Thread.currentThread().getName()).append(") ").append(logger).append(": ").append(msg).append('\n');
        if (cause != null) {
            java.io.StringWriter sw = new java.io.StringWriter();
            cause.printStackTrace(new java.io.PrintWriter(sw));
            line.append(sw);
        }
        try {
            Files.createDirectories(logFile.getParent());
            Files.write(logFile, line.toString().getBytes(StandardCharsets.UTF_8), StandardOpenOption.CREATE,
                StandardOpenOption.APPEND, StandardOpenOption.WRITE);
        } catch (IOException e) {
            ctx.err.print(line);
        }
    }

    synchronized void log(String level, String logger, String msg) {
        log(level, logger, msg, null);
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

        if (configuredToTalkToCloud(cfg)) {
            // STAND-IN line (the real nucleus says nothing here), for tests that check the skip
            log("INFO", k, "Device is configured to talk to cloud; not running the provisioning plugin. {thingName="
                + cfg.getString("system", "thingName") + "}");
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
        reportFleetStatus(tlog);
        while (!stopped) {
            try {
                Thread.sleep(60_000);
            } catch (InterruptedException e) {
                if (stopped) return;
                throw e;
            }
        }
    }

    /**
     * Once configured to talk to cloud, the real nucleus connects as its thing name with the device certificate
     * (iotDataEndpoint, Nucleus mqtt.port, default 8883) and its FleetStatusService publishes the device's status to
     * $aws/things/<thing>/greengrassv2/health/json at launch (trigger NUCLEUS_LAUNCH); Greengrass makes the core
     * device from it. The stand-in sends that one message and disconnects; a failure is a warning, never fatal.
     */
    private void reportFleetStatus(Path tlog) {
        Config cfg;
        try {
            cfg = Config.readTlog(tlog);
        } catch (Exception e) {
            return;
        }
        if (stopped || !configuredToTalkToCloud(cfg)) return;
        String thing = cfg.getString("system", "thingName");
        String endpoint = cfg.getString("services", NUCLEUS, "configuration", "iotDataEndpoint");
        String portText = cfg.getString("services", NUCLEUS, "configuration", "mqtt", "port");
        String fss = "com.aws.greengrass.status.FleetStatusService";
        try {
            int port = blank(portText) ? 8883 : Integer.parseInt(portText.trim().replaceAll("\\.0$", ""));
            SSLSocketFactory tls = Mqtt.tls(Paths.get(cfg.getString("system", "certificateFilePath")),
                Paths.get(cfg.getString("system", "privateKeyPath")), Paths.get(cfg.getString("system", "rootCaPath")));
            Mqtt mqtt = Mqtt.connect(endpoint, port, thing, tls, 30_000);
            try {
                String status = "{\"ggcVersion\":\"2.16.0\",\"platform\":\"linux\",\"architecture\":\"amd64\",\"thing\":"
                    + Json.write(thing) + ",\"overallDeviceStatus\":\"HEALTHY\",\"sequenceNumber\":1,\"timestamp\":"
                    + System.currentTimeMillis() + ",\"messageType\":\"COMPLETE\",\"trigger\":\"NUCLEUS_LAUNCH\",\"components\":[]}";
                mqtt.publish(30_000, "$aws/things/" + thing + "/greengrassv2/health/json", status);
                log("INFO", fss, "Published the fleet status (STAND-IN). {thingName=" + thing + ", trigger=NUCLEUS_LAUNCH}");
            } finally {
                mqtt.disconnect();
            }
        } catch (Exception e) {
            log("WARN", fss, "Could not publish the fleet status (STAND-IN). {endpoint=" + endpoint + ", reason=" + e + "}");
        }
    }

    /**
     * The nucleus's rule for "provisioned" (DeviceConfiguration.isDeviceConfiguredToTalkToCloud): thing name,
     * certificate, key and root CA paths, data and credential endpoints and region all set (blank = unset), the
     * region a region (the real one asks the SDK's list; here its form), and an `.amazonaws.` endpoint in that region.
     */
    static boolean configuredToTalkToCloud(Config cfg) {
        for (String key : new String[] {"thingName", "certificateFilePath", "privateKeyPath", "rootCaPath"}) {
            if (blank(cfg.getString("system", key))) return false;
        }
        String region = cfg.getString("services", NUCLEUS, "configuration", "awsRegion");
        if (blank(region) || !region.trim().matches("[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\\d+")) return false;
        for (String key : new String[] {"iotDataEndpoint", "iotCredEndpoint"}) {
            String endpoint = cfg.getString("services", NUCLEUS, "configuration", key);
            if (blank(endpoint)) return false;
            if (endpoint.contains(".amazonaws.") && !endpoint.contains(region)) return false;
        }
        return true;
    }

    private static boolean blank(String s) {
        return s == null || s.trim().isEmpty();
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

    void checkStopped() {
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

    /**
     * The nucleus's side (KernelLifecycle with RetryUtils): the plugin runs up to 3 times while it fails with
     * RetryableProvisioningException, after a jittered 0.5-1 s, then 1-2 s; only the first retry is logged at INFO.
     * Any other failure, or the third retryable one, is logged with its cause and the nucleus runs on unprovisioned.
     * Success writes no INFO line (the real "Updated provisioning configuration" is DEBUG).
     */
    void runProvisioningPlugin(Config cfg, Path tlog) {
        String k = "com.aws.greengrass.lifecyclemanager.KernelLifecycle";
        log("INFO", k, "Running provisioning plugin: " + PLUGIN + ". {}");
        Map<String, Object> c = pluginConfig(cfg);
        Plugin plugin = new Plugin(this, seconds("GG_STANDIN_MQTT_TIMEOUT_SECONDS", 30), seconds("GG_STANDIN_CONNECT_RETRY_SECONDS", 5));
        try {
            injectedProvisionFailure();
            long interval = 0;
            Plugin.Result result;
            for (int attempt = 1; ; attempt++) {
                try {
                    result = plugin.updateIdentityConfiguration(c);
                    break;
                } catch (RetryableProvisioningException e) {
                    if (attempt >= 3) throw e;
                    if (attempt == 1) log("INFO", k, "Running provisioning plugin. task failed and will be retried. {task-attempt=" + attempt + "}", e);
                    if (interval == 0) interval = 1000;
                    Thread.sleep(interval / 2 + ThreadLocalRandom.current().nextLong(interval / 2 + 1));
                    interval = Math.min(interval * 2, 60_000);
                }
            }
            record(cfg, tlog, c, result);
        } catch (Stopped e) {
            return; // host mode: stopped mid-provisioning, like a SIGTERMed JVM it says nothing more
        } catch (Exception e) {
            if (stopped) return;
            log("ERROR", k, "Caught exception while running provisioning plugin. Moving on to run Greengrass without provisioning. {}", e);
        }
    }

    /** What the nucleus merges from the plugin's answer: the identity under system, endpoints/region/role alias. */
    private void record(Config cfg, Path tlog, Map<String, Object> c, Plugin.Result r) throws IOException {
        long now = System.currentTimeMillis();
        List<String> lines = new ArrayList<>();
        set(cfg, lines, now, new String[] {"system", "thingName"}, r.thingName);
        set(cfg, lines, now, new String[] {"system", "certificateFilePath"}, r.certificatePath.toString());
        set(cfg, lines, now, new String[] {"system", "privateKeyPath"}, r.privateKeyPath.toString());
        set(cfg, lines, now, new String[] {"system", "rootCaPath"}, Plugin.str(c, "rootCaPath"));
        set(cfg, lines, now, new String[] {"services", NUCLEUS, "configuration", "iotDataEndpoint"}, Plugin.str(c, "iotDataEndpoint"));
        String[][] optional = {{"awsRegion", "awsRegion"}, {"iotCredentialEndpoint", "iotCredEndpoint"}, {"iotRoleAlias", "iotRoleAlias"}};
        for (String[] nk : optional) {
            String v = Plugin.str(c, nk[0]);
            if (v != null) set(cfg, lines, now, new String[] {"services", NUCLEUS, "configuration", nk[1]}, v);
        }
        synchronized (this) {
            checkStopped(); // a stopped nucleus records nothing (stop() holds this lock while it stops)
            Config.appendTlog(tlog, lines);
        }
    }

    private void injectedProvisionFailure() throws IOException {
        if ("provision".equals(setting("GG_STANDIN_FAIL"))) {
            throw new DeviceProvisioningRuntimeException(new RuntimeException("GG_STANDIN_FAIL=provision: injected RegisterThing rejection (stand-in)"));
        }
        String until = setting("GG_STANDIN_FAIL_UNTIL_PROVISION");
        if (until != null) {
            int n = Integer.parseInt(until.trim());
            int attempts = Installer.bumpCounter(root.resolve(".standin-provision-attempts"));
            if (attempts < n) {
                throw new DeviceProvisioningRuntimeException(new RuntimeException("GG_STANDIN_FAIL_UNTIL_PROVISION=" + n
                    + ": injected RegisterThing rejection on provisioning run " + attempts + " (stand-in)"));
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

    private static void set(Config cfg, List<String> lines, long ts, String[] path, Object v) {
        cfg.setIfNewer(path, v, ts);
        lines.add(Config.tlogLine(ts, path, v));
    }

    /** The plugin's MQTT connection, closed by a host-mode stop. */
    void connected(Mqtt mqtt) {
        connection = mqtt;
        if (stopped) {
            mqtt.close();
            throw new Stopped();
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
