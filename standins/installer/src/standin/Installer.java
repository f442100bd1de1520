package standin;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * STAND-IN for the Greengrass nucleus installer (Main-Class of Greengrass.jar). Arguments, messages,
 * exit codes and the files it writes follow docs/facts/nucleus-and-plugin.md and the
 * "Installer stand-in contract" in docs/architecture.md. It never provisions: with
 * --setup-system-service true it installs and starts the service, whose nucleus part (standin.Nucleus)
 * runs the plugin's provisioning later.
 */
public final class Installer {
    static final String VERSION = "2.16.0";
    static final String SERVICE = "greengrass.service";

    /** Known AWS regions (the real installer checks -ar against the SDK's region list). */
    static final Set<String> REGIONS = new HashSet<>(Arrays.asList(
        "us-east-1", "us-east-2", "us-west-1", "us-west-2", "af-south-1", "ap-east-1", "ap-east-2", "ap-south-1", "ap-south-2",
        "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3",
        "ap-southeast-4", "ap-southeast-5", "ap-southeast-7", "ca-central-1", "ca-west-1", "eu-central-1", "eu-central-2",
        "eu-west-1", "eu-west-2", "eu-west-3", "eu-south-1", "eu-south-2", "eu-north-1", "il-central-1", "me-south-1",
        "me-central-1", "mx-central-1", "sa-east-1", "us-gov-east-1", "us-gov-west-1", "cn-north-1", "cn-northwest-1"));

    private enum Kind { FLAG, BOOL, VALUE }

    private static final Map<String, String> ALIASES = new LinkedHashMap<>();
    private static final Map<String, Kind> KINDS = new LinkedHashMap<>();

    private static void arg(String canonical, Kind kind, String... names) {
        KINDS.put(canonical, kind);
        for (String n : names) ALIASES.put(n, canonical);
    }

    static {
        arg("help", Kind.FLAG, "-h", "--help");
        arg("version", Kind.FLAG, "-v", "--version");
        arg("config", Kind.VALUE, "-i", "--config");
        arg("init-config", Kind.VALUE, "-init", "--init-config");
        arg("root", Kind.VALUE, "-r", "--root");
        arg("aws-region", Kind.VALUE, "-ar", "--aws-region");
        arg("env-stage", Kind.VALUE, "-es", "--env-stage");
        arg("component-default-user", Kind.VALUE, "-u", "--component-default-user");
        arg("provision", Kind.BOOL, "-p", "--provision");
        arg("thing-name", Kind.VALUE, "-tn", "--thing-name");
        arg("thing-group-name", Kind.VALUE, "-tgn", "--thing-group-name");
        arg("thing-policy-name", Kind.VALUE, "-tpn", "--thing-policy-name");
        arg("tes-role-name", Kind.VALUE, "-trn", "--tes-role-name");
        arg("tes-role-alias-name", Kind.VALUE, "-tra", "--tes-role-alias-name");
        arg("deploy-dev-tools", Kind.BOOL, "-d", "--deploy-dev-tools");
        arg("cert-path", Kind.VALUE, "--cert-path");
        arg("setup-system-service", Kind.BOOL, "-ss", "--setup-system-service");
        arg("start", Kind.BOOL, "-s", "--start");
        arg("trusted-plugin", Kind.VALUE, "-tp", "--trusted-plugin");
    }

    private final Ctx ctx;
    private final Map<String, String> opts = new LinkedHashMap<>();
    private final List<String> trustedPlugins = new ArrayList<>();

    public static void main(String[] args) {
        System.exit(invoke(Ctx.process(), args));
    }

    /** One installer invocation: its exit code; output and errors go to the context's streams. */
    static int invoke(Ctx ctx, String[] args) {
        try {
            int code = new Installer(ctx, args).perform();
            ctx.out.flush();
            return code;
        } catch (Throwable e) {
            ctx.out.flush();
            ctx.err.println("Error while trying to setup Greengrass Nucleus");
            e.printStackTrace(ctx.err);
            ctx.err.flush();
            return 1;
        }
    }

    Installer(Ctx ctx, String[] args) {
        this.ctx = ctx;
        for (int k = 0; k < args.length; k++) {
            String name = ALIASES.get(args[k].toLowerCase(Locale.ROOT));
            if (name == null) throw new RuntimeException("Undefined command line argument: " + args[k]);
            Kind kind = KINDS.get(name);
            String value;
            if (kind == Kind.FLAG) value = "true";
            else if (kind == Kind.BOOL) {
                // a boolean flag with no value counts as true
                if (k + 1 < args.length && !args[k + 1].startsWith("-")) value = Boolean.toString(Boolean.parseBoolean(args[++k]));
                else value = "true";
            } else {
                if (k + 1 >= args.length) throw new RuntimeException("No value given for command line argument: " + args[k]);
                value = args[++k];
            }
            if (name.equals("trusted-plugin")) trustedPlugins.add(value);
            else opts.put(name, value);
        }
    }

    private boolean bool(String name, boolean dflt) {
        String v = opts.get(name);
        return v == null ? dflt : Boolean.parseBoolean(v);
    }

    private Path expand(String p) {
        if (p.equals("~") || p.startsWith("~/")) p = ctx.prop("user.home") + p.substring(1);
        return ctx.path(p).normalize();
    }

    int perform() throws Exception {
        if (bool("help", false)) {
            ctx.out.println(help());
            return 0;
        }
        if (bool("version", false)) {
            ctx.out.println("AWS Greengrass v" + VERSION + " (STAND-IN)");
            return 0;
        }
        // ---- validate everything before touching the disk ----
        for (String tp : trustedPlugins) {
            if (!tp.endsWith(".jar")) throw new IllegalArgumentException("Trusted plugin path must end with .jar: " + tp);
            if (!Files.isRegularFile(ctx.path(tp))) throw new IllegalArgumentException("Trusted plugin jar file does not exist: " + tp);
        }
        String region = opts.get("aws-region");
        if (region != null && !REGIONS.contains(region)) {
            throw new IllegalArgumentException(region + " is not a valid AWS region");
        }
        if (bool("provision", false)) {
            throw new UnsupportedOperationException("--provision true needs AWS credentials on the device and calls AWS directly; the installer STAND-IN supports only fleet provisioning (--provision false)");
        }
        Map<String, Object> baseConfig = null;
        long baseTs = 0;
        String configArg = opts.get("config") != null ? opts.get("config") : opts.get("init-config");
        if (configArg != null) {
            Path f = expand(configArg);
            if (Files.exists(f)) {
                baseConfig = readConfigFile(f);
                baseTs = Files.getLastModifiedTime(f).toMillis();
            } else if (opts.get("config") != null) {
                throw new IllegalArgumentException("Config file " + f + " does not exist");
            } // a missing --init-config file is silently ignored, like the real installer
        }
        Path root;
        if (opts.get("root") != null) root = expand(opts.get("root"));
        else if (ctx.prop("root") != null && !ctx.prop("root").isEmpty()) root = expand(ctx.prop("root"));
        else if (baseConfig != null && rootpathFrom(baseConfig) != null) root = expand(rootpathFrom(baseConfig));
        else root = expand("~/.greengrass");

        String systemdDir = env("GG_STANDIN_SYSTEMD_DIR");
        if (ctx.host != null && systemdDir == null) {
            throw new IllegalStateException("the shared installer STAND-IN host emulates the service only in test mode: set GG_STANDIN_SYSTEMD_DIR");
        }
        failureInjection(root);

        ctx.out.println("Setting up Greengrass Nucleus (STAND-IN) in " + root);
        // ---- layout ----
        for (String d : new String[] {"config", "work", "packages/artifacts", "packages/artifacts-unarchived", "packages/recipes", "alts",
            "deployments", "cli_ipc_info", "bin", "plugins/trusted", "plugins/untrusted", "logs", "telemetry"}) {
            Files.createDirectories(root.resolve(d));
        }
        persistStandinEnv(root);

        // ---- config ----
        Path tlog = root.resolve("config").resolve("config.tlog");
        long now = System.currentTimeMillis();
        String launchParams = launchParams(ctx);
        if (opts.get("config") != null) {
            Config cfg = new Config();
            cfg.merge(baseConfig, baseTs);
            defaults(cfg, root, now, launchParams);
            cfg.rewriteTlog(tlog);
        } else {
            Config cfg = Config.readTlog(tlog);
            List<String> lines = new ArrayList<>();
            if (baseConfig != null) lines.addAll(cfg.merge(baseConfig, baseTs));
            lines.addAll(defaults(cfg, root, now, launchParams));
            Config.appendTlog(tlog, lines);
        }
        Path bootstrap = root.resolve("config").resolve("bootstrap.tlog");
        if (!Files.exists(bootstrap)) Files.createFile(bootstrap);

        // ---- plugins: copied, overwriting any existing copy ----
        for (String tp : trustedPlugins) {
            Path src = ctx.path(tp);
            Files.copy(src, root.resolve("plugins").resolve("trusted").resolve(src.getFileName().toString()), StandardCopyOption.REPLACE_EXISTING);
        }

        // ---- nucleus distro, alts/init, alts/current, launch.params ----
        Path distro = root.resolve("packages/artifacts-unarchived/aws.greengrass.Nucleus").resolve(VERSION).resolve("aws.greengrass.nucleus");
        Path ownJar = ownJar();
        Path libJar = distro.resolve("lib").resolve("Greengrass.jar");
        if (!Files.exists(libJar)) {
            Files.createDirectories(libJar.getParent());
            Files.copy(ownJar, libJar);
        }
        Path loader = distro.resolve("bin").resolve("loader");
        if (!Files.exists(loader)) {
            Files.createDirectories(loader.getParent());
            Files.write(loader, loaderScript(ctx, root).getBytes(StandardCharsets.UTF_8));
            Files.setPosixFilePermissions(loader, PosixFilePermissions.fromString("rwxr-xr-x"));
        }
        Path init = root.resolve("alts").resolve("init");
        Files.createDirectories(init);
        if (!Files.exists(init.resolve("distro"), LinkOption.NOFOLLOW_LINKS)) Files.createSymbolicLink(init.resolve("distro"), distro);
        Path current = root.resolve("alts").resolve("current");
        if (!Files.exists(current, LinkOption.NOFOLLOW_LINKS)) Files.createSymbolicLink(current, Paths.get("init"));
        Path lp = init.resolve("launch.params");
        if (!Files.exists(lp)) Files.write(lp, launchParams.getBytes(StandardCharsets.UTF_8));

        // ---- default user ----
        String user = opts.get("component-default-user");
        boolean isRoot = "root".equals(ctx.prop("user.name"));
        if (user != null && isRoot && systemdDir == null) createUser(user);

        // ---- service ----
        boolean start = bool("start", true);
        if (bool("setup-system-service", false)) {
            setupSystemService(root, systemdDir, start);
            return 0;
        }
        if (start) {
            ctx.out.println("Launching Nucleus...");
            new Nucleus(ctx, root).run(); // foreground, like the real installer without -ss: returns only when stopped (host mode)
        }
        ctx.out.println("Greengrass Nucleus set up (STAND-IN); not started (--start false)");
        return 0;
    }

    private String env(String n) {
        return ctx.env(n);
    }

    static int bumpCounter(Path f) throws IOException {
        int n = 0;
        if (Files.exists(f)) {
            try { n = Integer.parseInt(new String(Files.readAllBytes(f), StandardCharsets.US_ASCII).trim()); } catch (NumberFormatException ignored) { n = 0; }
        }
        n++;
        Files.createDirectories(f.toAbsolutePath().getParent());
        Files.write(f, (n + "\n").getBytes(StandardCharsets.US_ASCII));
        return n;
    }

    private void failureInjection(Path root) throws Exception {
        String fail = env("GG_STANDIN_FAIL");
        if (fail == null || fail.equals("provision")) return;
        if (fail.equals("hang")) {
            while (true) Thread.sleep(60_000); // the installer never exits (host mode: interrupted when its client goes away)
        }
        if (fail.equals("install")) throw new IllegalStateException("GG_STANDIN_FAIL=install: injected installer failure (STAND-IN)");
        if (fail.startsWith("install-until:")) {
            int n;
            try { n = Integer.parseInt(fail.substring("install-until:".length())); } catch (NumberFormatException e) { n = -1; }
            if (n < 1) throw new IllegalArgumentException("GG_STANDIN_FAIL=" + fail + ": N must be a positive integer");
            int attempt = bumpCounter(root.resolve(".standin-attempts"));
            if (attempt < n) throw new IllegalStateException("GG_STANDIN_FAIL=" + fail + ": injected installer failure on attempt " + attempt + " (STAND-IN)");
            return;
        }
        throw new IllegalArgumentException("GG_STANDIN_FAIL=" + fail + " is not one of install, provision, hang, install-until:<N>");
    }

    /** The nucleus runs under systemd without our environment: keep the provisioning failure settings in <root>/.standin-env. */
    private void persistStandinEnv(Path root) throws IOException {
        StringBuilder b = new StringBuilder();
        if ("provision".equals(env("GG_STANDIN_FAIL"))) b.append("GG_STANDIN_FAIL=provision\n");
        if (env("GG_STANDIN_FAIL_UNTIL_PROVISION") != null) b.append("GG_STANDIN_FAIL_UNTIL_PROVISION=").append(env("GG_STANDIN_FAIL_UNTIL_PROVISION")).append('\n');
        Path f = root.resolve(".standin-env");
        if (b.length() == 0) Files.deleteIfExists(f);
        else Files.write(f, b.toString().getBytes(StandardCharsets.UTF_8));
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> readConfigFile(Path f) throws IOException {
        String text = new String(Files.readAllBytes(f), StandardCharsets.UTF_8);
        Object doc;
        try {
            doc = f.toString().endsWith(".json") ? Json.parse(text) : Yaml.parse(text);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("Unable to parse config file " + f + ": " + e.getMessage(), e);
        }
        if (doc == null) return new LinkedHashMap<>();
        if (!(doc instanceof Map)) throw new IllegalArgumentException("Config file " + f + " is not a mapping");
        return (Map<String, Object>) doc;
    }

    @SuppressWarnings("unchecked")
    private static String rootpathFrom(Map<String, Object> doc) {
        for (Map.Entry<String, Object> e : doc.entrySet()) {
            if (e.getKey().equalsIgnoreCase("system") && e.getValue() instanceof Map) {
                for (Map.Entry<String, Object> s : ((Map<String, Object>) e.getValue()).entrySet()) {
                    if (s.getKey().equalsIgnoreCase("rootpath") && s.getValue() != null) return s.getValue().toString();
                }
            }
        }
        return null;
    }

    /** What the installer itself adds to the config. Returns the tlog lines for the values that changed. */
    private List<String> defaults(Config cfg, Path root, long now, String launchParams) {
        List<String> lines = new ArrayList<>();
        putIfAbsent(cfg, lines, now, new String[] {"system", "rootpath"}, root.toString());
        putIfAbsent(cfg, lines, now, new String[] {"services", Nucleus.NUCLEUS, "componentType"}, "NUCLEUS");
        putIfAbsent(cfg, lines, now, new String[] {"services", Nucleus.NUCLEUS, "version"}, VERSION);
        putIfAbsent(cfg, lines, now, new String[] {"services", Nucleus.NUCLEUS, "configuration", "jvmOptions"}, launchParams);
        if (opts.get("component-default-user") != null) {
            String[] p = {"services", Nucleus.NUCLEUS, "configuration", "runWithDefault", "posixUser"};
            if (cfg.setIfNewer(p, opts.get("component-default-user"), now)) lines.add(Config.tlogLine(now, p, opts.get("component-default-user")));
        }
        if (opts.get("aws-region") != null) {
            String[] p = {"services", Nucleus.NUCLEUS, "configuration", "awsRegion"};
            if (cfg.setIfNewer(p, opts.get("aws-region"), now)) lines.add(Config.tlogLine(now, p, opts.get("aws-region")));
        }
        return lines;
    }

    private static void putIfAbsent(Config cfg, List<String> lines, long ts, String[] path, Object v) {
        Config.Node n = cfg.node(path);
        if (n != null && n.leaf && n.value != null) return;
        if (cfg.setIfNewer(path, v, ts)) lines.add(Config.tlogLine(ts, path, v));
    }

    /** The installer JVM's options minus -Droot (Kernel.persistInitialLaunchParams); in host mode the invocation's. */
    private static String launchParams(Ctx ctx) {
        List<String> out = new ArrayList<>();
        for (String a : ctx.jvmArgs) {
            if (!a.startsWith("-Droot=")) out.add(a);
        }
        return String.join(" ", out);
    }

    private static Path ownJar() throws Exception {
        Path p = Paths.get(Installer.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        if (!Files.isRegularFile(p) || !p.toString().endsWith(".jar")) {
            throw new IllegalStateException("the installer STAND-IN must run from its jar (java -jar Greengrass.jar), not from " + p);
        }
        return p;
    }

    static String sq(String s) {
        return "'" + s.replace("'", "'\\''") + "'";
    }

    private static String loaderScript(Ctx ctx, Path root) {
        String java = Paths.get(ctx.prop("java.home"), "bin", "java").toString();
        return "#!/bin/sh\n"
            + "# STAND-IN loader for the Greengrass nucleus (the real one ships in the nucleus zip as bin/loader).\n"
            + "GG_ROOT=" + sq(root.toString()) + "\n"
            + "echo $$ > \"$GG_ROOT/alts/loader.pid\"\n"
            + "JVM_OPTIONS=$(cat \"$GG_ROOT/alts/current/launch.params\" 2>/dev/null)\n"
            + "exec " + sq(java) + " $JVM_OPTIONS -Droot=\"$GG_ROOT\" -cp \"$GG_ROOT/alts/current/distro/lib/Greengrass.jar\" standin.Nucleus --root \"$GG_ROOT\"\n";
    }

    /**
     * The unit the real installer writes: the nucleus's scripts/greengrass.service.template of the version baked,
     * with the loader, pid file and loader log paths filled in. `After=time-sync.target` arrived in 2.18.0; the
     * 2.16.0 template orders the service after network.target only (docs/facts/nucleus-and-plugin.md).
     */
    static String unitFile(Path root, String version) {
        String loader = root.resolve("alts/current/distro/bin/loader").toString();
        return "[Unit]\n"
            + "Description=Greengrass Core\n"
            + "After=network.target\n"
            + (versionAtLeast(version, 2, 18) ? "After=time-sync.target\n" : "")
            + "\n"
            + "[Service]\n"
            + "Type=simple\n"
            + "PIDFile=" + root.resolve("alts/loader.pid") + "\n"
            + "RemainAfterExit=no\n"
            + "Restart=on-failure\n"
            + "RestartSec=10\n"
            + "ExecStart=/bin/sh -c \"exec " + loader + " >> " + root.resolve("logs/loader.log") + " 2>&1\"\n"
            + "KillMode=mixed\n"
            + "\n"
            + "[Install]\n"
            + "WantedBy=multi-user.target\n";
    }

    static boolean versionAtLeast(String version, int major, int minor) {
        String[] p = version.split("\\.");
        int ma = Integer.parseInt(p[0]);
        int mi = p.length > 1 ? Integer.parseInt(p[1]) : 0;
        return ma > major || (ma == major && mi >= minor);
    }

    private int run(String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.INHERIT).start();
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            return -1;
        }
        return p.exitValue();
    }

    private void createUser(String spec) throws Exception {
        String[] ug = spec.split(":", 2);
        String user = ug[0];
        String group = ug.length > 1 ? ug[1] : null;
        if (run("id", "-u", user) != 0) {
            ctx.out.println("Creating user " + user);
            if (run("useradd", "-r", "-m", user) != 0) throw new IllegalStateException("Failed to create user " + user);
            ctx.out.println(user + " created");
        }
        if (group != null) {
            if (run("getent", "group", group) != 0) {
                ctx.out.println("Creating group " + group);
                if (run("groupadd", "-r", group) != 0) throw new IllegalStateException("Failed to create group " + group);
                ctx.out.println(group + " created");
            }
            ctx.out.println("Adding user " + user + " to group " + group);
            if (run("usermod", "-a", "-G", group, user) != 0) throw new IllegalStateException("Failed to add user " + user + " to group " + group);
        }
    }

    private void setupSystemService(Path root, String systemdDir, boolean start) throws Exception {
        ctx.out.println("Setting up system service (STAND-IN)");
        Path unitDir = systemdDir != null ? ctx.path(systemdDir) : Paths.get("/etc/systemd/system");
        Path unit = unitDir.resolve(SERVICE);
        try {
            Files.createDirectories(unitDir);
            Files.write(unit, unitFile(root, VERSION).getBytes(StandardCharsets.UTF_8));
        } catch (IOException e) {
            ctx.out.println("Unable to set up Nucleus as a system service");
            return;
        }
        if (systemdDir == null) {
            boolean ok = run("systemctl", "daemon-reload") == 0
                && run("systemctl", "unmask", SERVICE) == 0
                && run("systemctl", "stop", SERVICE) == 0
                && (!start || run("systemctl", "start", SERVICE) == 0)
                && run("systemctl", "enable", SERVICE) == 0;
            ctx.out.println(ok ? "Successfully set up Nucleus as a system service" : "Unable to set up Nucleus as a system service");
            return;
        }
        // Test mode: the unit and its multi-user.target.wants link under GG_STANDIN_SYSTEMD_DIR; the service is emulated.
        Path wants = unitDir.resolve("multi-user.target.wants");
        Files.createDirectories(wants);
        Path link = wants.resolve(SERVICE);
        Files.deleteIfExists(link);
        Files.createSymbolicLink(link, unit);
        if (ctx.host != null) {
            // shared host mode: the nucleus is a thread of this JVM, not a detached process
            ctx.host.stopNucleus(root);
            if (start) ctx.host.startNucleus(root, ctx.envMap());
        } else {
            stopNucleus(root);
            if (start) startDetached(root);
        }
        ctx.out.println("Successfully set up Nucleus as a system service");
    }

    /**
     * "systemctl stop" in test mode: SIGTERM the nucleus named in alts/loader.pid (and its descendants), SIGKILL
     * after 10 s. Signals are sent with ProcessHandle only, never by running kill(1): procps kill misparses
     * "kill -TERM -<pgid>" (it signalled process group 2 / -1 here), which can take down unrelated processes.
     */
    static void stopNucleus(Path root) throws Exception {
        Path pidFile = root.resolve("alts").resolve("loader.pid");
        if (!Files.exists(pidFile)) return;
        long pid;
        try { pid = Long.parseLong(new String(Files.readAllBytes(pidFile), StandardCharsets.US_ASCII).trim()); } catch (NumberFormatException e) { return; }
        if (pid <= 1 || pid == ProcessHandle.current().pid()) return;
        Optional<ProcessHandle> ph = ProcessHandle.of(pid);
        if (ph.isEmpty() || !ph.get().isAlive()) return;
        String cmd;
        try {
            cmd = new String(Files.readAllBytes(Paths.get("/proc", Long.toString(pid), "cmdline")), StandardCharsets.UTF_8);
        } catch (IOException e) {
            cmd = ph.get().info().commandLine().orElse("");
        }
        if (!cmd.contains("standin.Nucleus") || !cmd.contains(root.toString())) return; // a reused pid, or another root's nucleus
        List<ProcessHandle> all = new ArrayList<>();
        ph.get().descendants().forEach(all::add);
        all.add(ph.get());
        for (ProcessHandle h : all) h.destroy();
        try {
            ph.get().onExit().get(10, TimeUnit.SECONDS);
        } catch (java.util.concurrent.TimeoutException e) {
            for (ProcessHandle h : all) h.destroyForcibly();
            ph.get().onExit().get(5, TimeUnit.SECONDS);
        }
    }

    /** "systemctl start" in test mode: the unit's ExecStart, detached in its own session / process group. */
    private static void startDetached(Path root) throws IOException {
        String loader = root.resolve("alts/current/distro/bin/loader").toString();
        String log = root.resolve("logs/loader.log").toString();
        new ProcessBuilder("setsid", "/bin/sh", "-c", "exec \"$0\" >> \"$1\" 2>&1", loader, log)
            .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
            .redirectOutput(ProcessBuilder.Redirect.DISCARD)
            .redirectError(ProcessBuilder.Redirect.DISCARD)
            .start();
    }

    private static String help() {
        return String.join("\n",
            "Greengrass Nucleus installer (STAND-IN)",
            "  -h, --help                         show this help",
            "  -v, --version                      print the version",
            "  -i, --config FILE                  replace the configuration with FILE",
            "  -init, --init-config FILE          merge FILE into the existing configuration",
            "  -r, --root DIR                     root directory (or -Droot=DIR)",
            "  -ar, --aws-region REGION",
            "  -u, --component-default-user USER[:GROUP]",
            "  -p, --provision true|false         (stand-in: only false)",
            "  -ss, --setup-system-service true|false",
            "  -s, --start true|false",
            "  -tp, --trusted-plugin JAR          (repeatable)");
    }
}
