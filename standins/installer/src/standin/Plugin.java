package standin;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeoutException;
import javax.net.ssl.SSLSocketFactory;
import standin.RealFaults.CrtRuntimeException;
import standin.RealFaults.DeviceProvisioningRuntimeException;
import standin.RealFaults.MqttException;
import standin.RealFaults.RetryableProvisioningException;

/**
 * STAND-IN for the FleetProvisioningByClaim plugin's updateIdentityConfiguration: one provisioning attempt, with
 * the log lines and exceptions of the real plugin (facts: docs/facts/nucleus-and-plugin.md). A /rejected reply
 * becomes RuntimeException(errorMessage) only (statusCode and errorCode never reach the log) and is not retried;
 * a timeout or a failed MQTT operation is a RetryableProvisioningException; a failed connect is retried here,
 * every 5 s, without end. With csrPath the certificate comes from the device's CSR (CreateCertificateFromCsr) and
 * the device's own key (csrPrivateKeyPath) is what the nucleus gets.
 */
final class Plugin {
    static final String NAME = "aws.greengrass.FleetProvisioningByClaim";
    private static final String PLUGIN_LOG = "com.aws.greengrass.FleetProvisioningByClaimPlugin";
    private static final String HELPER_LOG = "com.aws.greengrass.IotIdentityHelper";
    private static final String FUTURE_LOG = "com.aws.greengrass.FutureExceptionHandler";
    private static final String CONNECTION_LOG = "com.aws.greengrass.MqttConnectionHelper";
    /** The plugin's required keys, in its order (provisioningTemplate is checked twice there). */
    private static final String[] REQUIRED = {"provisioningTemplate", "claimCertificatePath",
        "claimCertificatePrivateKeyPath", "rootCaPath", "iotDataEndpoint", "provisioningTemplate", "rootPath"};

    /** What a successful attempt hands back to the nucleus. */
    static final class Result {
        String thingName;
        Path certificatePath;
        Path privateKeyPath;
    }

    /** One MQTT step the plugin waits for (a SUBACK, PUBACK or reply). */
    private interface Step<T> {
        T run(long timeoutMs) throws IOException;
    }

    private final Nucleus n;
    private final long timeoutMs;
    private final long connectRetryMs;

    Plugin(Nucleus n, long timeoutMs, long connectRetryMs) {
        this.n = n;
        this.timeoutMs = timeoutMs;
        this.connectRetryMs = connectRetryMs;
    }

    Result updateIdentityConfiguration(Map<String, Object> c) throws Exception {
        validate(c);
        String rootPath = str(c, "rootPath").replaceAll("/+$", "");
        String template = str(c, "provisioningTemplate");
        String endpoint = str(c, "iotDataEndpoint");
        int port = str(c, "mqttPort") == null ? 8883 : Integer.parseInt(str(c, "mqttPort"));
        String clientId = str(c, "deviceId") != null ? str(c, "deviceId") : UUID.randomUUID().toString();
        Result out = new Result();
        out.certificatePath = Paths.get(str(c, "certificatePath") != null ? str(c, "certificatePath") : rootPath + "/thingCert.crt");
        out.privateKeyPath = Paths.get(str(c, "privateKeyPath") != null ? str(c, "privateKeyPath") : rootPath + "/privKey.key");
        Map<String, Object> params = new LinkedHashMap<>();
        Object tp = c.get("templateparameters");
        if (tp instanceof Map) {
            for (Map.Entry<?, ?> e : ((Map<?, ?>) tp).entrySet()) {
                params.put(String.valueOf(e.getKey()), e.getValue() == null ? "" : scalarString(e.getValue()));
            }
        }
        SSLSocketFactory tls;
        try {
            tls = Mqtt.tls(Paths.get(str(c, "claimCertificatePath")), Paths.get(str(c, "claimCertificatePrivateKeyPath")),
                Paths.get(str(c, "rootCaPath")));
        } catch (Exception e) {
            CrtRuntimeException crt = new CrtRuntimeException(e.getMessage());
            n.log("ERROR", PLUGIN_LOG, "Exception encountered while getting device identity information. {}", crt);
            throw crt;
        }
        Mqtt mqtt = connect(endpoint, port, clientId, tls);
        try {
            String csrPath = str(c, "csrPath");
            String ownershipToken = csrPath == null ? createKeysAndCertificate(mqtt, out)
                : createCertificateFromCsr(mqtt, out, Paths.get(csrPath).normalize(),
                    Paths.get(str(c, "csrPrivateKeyPath")).normalize());

            String provision = "$aws/provisioning-templates/" + template + "/provision/json";
            step(t -> { mqtt.subscribe(t, provision + "/accepted"); return null; },
                "Failed to subscribe to register thing accepted topic");
            n.log("INFO", HELPER_LOG, "Subscribed to SubscribeToRegisterThingAccepted. {}");
            step(t -> { mqtt.subscribe(t, provision + "/rejected"); return null; },
                "Failed to subscribe to register thing rejected topic");
            n.log("INFO", HELPER_LOG, "Subscribed to SubscribeToRegisterThingRejected. {}");
            Map<String, Object> req = new LinkedHashMap<>();
            req.put("certificateOwnershipToken", ownershipToken);
            if (!params.isEmpty()) req.put("parameters", params);
            try {
                mqtt.publishNoWait(provision, Json.write(req)); // the plugin does not wait for this PUBACK
            } catch (IOException ignored) {
                // a failed send shows up as no reply: the wait below times out, as the plugin's would
            }
            Map<String, Object> reg = reply(mqtt, provision, "Caught exception during registering Iot Thing");
            out.thingName = String.valueOf(reg.get("thingName"));
            n.log("INFO", HELPER_LOG, "Received register thing response for thing name " + out.thingName + ". {}");
            mqtt.disconnect();
            return out;
        } finally {
            mqtt.close();
        }
    }

    /** AWS makes the key: CreateKeysAndCertificate; certificate and key written as they come. */
    private String createKeysAndCertificate(Mqtt mqtt, Result out) throws Exception {
        String create = "$aws/certificates/create/json";
        step(t -> { mqtt.subscribe(t, create + "/accepted"); return null; },
            "Failed to subscribe to create keys and certificate accepted topic");
        n.log("INFO", HELPER_LOG, "Subscribed to CreateKeysAndCertificateAccepted. {}");
        step(t -> { mqtt.subscribe(t, create + "/rejected"); return null; },
            "Failed to subscribe to create keys and certificate rejected topic");
        n.log("INFO", HELPER_LOG, "Subscribed to CreateKeysAndCertificateRejected. {}");
        step(t -> { mqtt.publish(t, create, ""); return null; }, "Failed to publish to create keys and certificate topic");
        n.log("INFO", HELPER_LOG, "Published to CreateKeysAndCertificate. {}");
        Map<String, Object> keys = reply(mqtt, create, "Caught exception during PublishCreateKeysAndCertificate");
        n.checkStopped();
        writeFile(out.certificatePath, String.valueOf(keys.get("certificatePem")));
        writeFile(out.privateKeyPath, String.valueOf(keys.get("privateKey")));
        return String.valueOf(keys.get("certificateOwnershipToken"));
    }

    /**
     * The device made the key (csrPath): only the CSR is sent (CreateCertificateFromCsr). The certificate is written,
     * and the device's key copied to privateKeyPath (onto itself when it is that file: Files.copy then copies nothing),
     * then made owner-only. The log lines are the plugin's, its "CreatedCertificateFromCsrAccepted" included.
     */
    private String createCertificateFromCsr(Mqtt mqtt, Result out, Path csrFile, Path keyFile) throws Exception {
        String csr;
        try {
            csr = new String(Files.readAllBytes(csrFile), StandardCharsets.UTF_8);
        } catch (IOException | SecurityException e) {
            n.log("ERROR", PLUGIN_LOG, "Caught exception while reading the CSR file. {}", e);
            throw new DeviceProvisioningRuntimeException("Failed to read CSR file " + csrFile.toAbsolutePath(), e);
        }
        String create = "$aws/certificates/create-from-csr/json";
        step(t -> { mqtt.subscribe(t, create + "/accepted"); return null; },
            "Failed to subscribe to create certificate from csr accepted topic");
        n.log("INFO", HELPER_LOG, "Subscribed to CreatedCertificateFromCsrAccepted. {}");
        step(t -> { mqtt.subscribe(t, create + "/rejected"); return null; },
            "Failed to subscribe to create certificate from csr rejected topic");
        n.log("INFO", HELPER_LOG, "Subscribed to CreateCertificateFromCsrRejected. {}");
        Map<String, Object> req = new LinkedHashMap<>();
        req.put("certificateSigningRequest", csr);
        step(t -> { mqtt.publish(t, create, Json.write(req)); return null; },
            "Failed to publish to create certificate from csr topic");
        n.log("INFO", HELPER_LOG, "Published to CreateCertificateFromCsr. {}");
        Map<String, Object> cert = reply(mqtt, create, "Caught exception during PublishCreateCertificateFromCsr");
        n.checkStopped();
        writeFile(out.certificatePath, String.valueOf(cert.get("certificatePem")));
        try {
            Path parent = out.privateKeyPath.getParent();
            if (parent != null) Files.createDirectories(parent);
            if (Files.notExists(out.privateKeyPath)) Files.createFile(out.privateKeyPath);
            Files.copy(keyFile, out.privateKeyPath, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            n.log("ERROR", PLUGIN_LOG, "Caught exception while copying file. {src=" + keyFile + ", dst=" + out.privateKeyPath + "}");
            throw new DeviceProvisioningRuntimeException(
                String.format("Failed to copy %s to %s", keyFile, out.privateKeyPath), e);
        }
        try {
            Files.setPosixFilePermissions(keyFile, PosixFilePermissions.fromString("rw-------"));
        } catch (IOException e) {
            throw new DeviceProvisioningRuntimeException(String.format("Failed to set permissions on file %s", keyFile), e);
        }
        return String.valueOf(cert.get("certificateOwnershipToken"));
    }

    private void validate(Map<String, Object> c) {
        List<String> errors = new java.util.ArrayList<>();
        for (String r : REQUIRED) {
            if (str(c, r) == null || str(c, r).trim().isEmpty()) errors.add("Required parameter " + r + " missing for " + NAME);
        }
        if (str(c, "csrPath") != null && (str(c, "csrPrivateKeyPath") == null || str(c, "csrPrivateKeyPath").trim().isEmpty())) {
            errors.add("Required parameter csrPrivateKeyPath missing for " + NAME);
        }
        if (!errors.isEmpty()) throw new IllegalArgumentException(errors.toString());
    }

    /** The plugin retries a failed connect every 5 s for as long as it takes (MqttException is retryable). */
    private Mqtt connect(String endpoint, int port, String clientId, SSLSocketFactory tls) throws InterruptedException {
        while (true) {
            try {
                Mqtt mqtt = Mqtt.connect(endpoint, port, clientId, tls, 30_000);
                n.connected(mqtt);
                return mqtt;
            } catch (Mqtt.ConnectFailed e) {
                n.checkStopped();
                RetryableProvisioningException r = new RetryableProvisioningException(new MqttException(e.getMessage()));
                n.log("WARN", FUTURE_LOG, "Caught exception while establishing connection to AWS Iot. {retryable=true}", r);
                n.log("INFO", PLUGIN_LOG, "Retrying MQTT connect which failed in provisioning plugin. {}");
                Thread.sleep(connectRetryMs);
            }
        }
    }

    /**
     * One waited-for MQTT step, failing as the plugin's FutureExceptionHandler does: a timeout is retryable. A
     * closed connection fails nothing at once (the CRT reports the interruption and reconnects on its own), so the
     * waiting step runs into its timeout.
     */
    private <T> T step(Step<T> s, String errorMessage) throws RetryableProvisioningException, InterruptedException {
        long deadline = System.currentTimeMillis() + timeoutMs;
        try {
            return s.run(timeoutMs);
        } catch (Mqtt.Timeout e) {
            n.checkStopped();
        } catch (IOException e) {
            n.checkStopped();
            n.log("WARN", CONNECTION_LOG, "Connection interrupted: . {errorCode=AWS_ERROR_MQTT_UNEXPECTED_HANGUP}");
            long left = deadline - System.currentTimeMillis();
            if (left > 0) Thread.sleep(left);
            n.checkStopped();
        }
        TimeoutException timeout = new TimeoutException();
        n.log("WARN", FUTURE_LOG, errorMessage + ". {retryable=true}", timeout);
        throw new RetryableProvisioningException(timeout);
    }

    /** The /accepted payload; a /rejected one fails with RuntimeException(errorMessage), not retried. */
    private Map<String, Object> reply(Mqtt mqtt, String topic, String errorMessage) throws Exception {
        String[] res = step(t -> mqtt.awaitMessage(Set.of(topic + "/accepted", topic + "/rejected"), t, topic + " reply"),
            errorMessage);
        @SuppressWarnings("unchecked")
        Map<String, Object> m = (Map<String, Object>) Json.parse(res[1]);
        if (res[0].endsWith("/rejected")) {
            RuntimeException rejected = new RuntimeException(m.get("errorMessage") == null ? null : String.valueOf(m.get("errorMessage")));
            n.log("ERROR", FUTURE_LOG, errorMessage + ". {}", new ExecutionException(rejected));
            throw new DeviceProvisioningRuntimeException(rejected);
        }
        return m;
    }

    private void writeFile(Path p, String content) {
        try {
            Nucleus.writeSecret(p, content);
        } catch (IOException e) {
            n.log("ERROR", PLUGIN_LOG, "Caught exception while writing certificate to file. {}", e);
            throw new DeviceProvisioningRuntimeException("Failed to write certificate", e);
        }
    }

    static String str(Map<String, Object> c, String key) {
        Object v = c.get(key.toLowerCase(Locale.ROOT));
        if (v == null || v instanceof Map || v instanceof List) return null;
        String s = scalarString(v);
        return s.isEmpty() ? null : s;
    }

    static String scalarString(Object v) {
        if (v instanceof Double && (Double) v == Math.rint((Double) v)) return Long.toString(((Double) v).longValue());
        return v.toString();
    }
}
