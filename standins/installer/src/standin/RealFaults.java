package standin;

/**
 * Throwables that print (toString, printStackTrace) under the names of the real nucleus's, plugin's and AWS CRT's
 * classes, so greengrass.log carries the cause lines a real nucleus writes. What each wraps follows the plugin's
 * FutureExceptionHandler and the nucleus's KernelLifecycle (docs/facts/nucleus-and-plugin.md).
 */
final class RealFaults {
    private RealFaults() {
    }

    private static String named(String className, String message) {
        return message == null ? className : className + ": " + message;
    }

    /** The plugin's non-retryable failure; built from a cause, its message is the cause's toString. */
    static final class DeviceProvisioningRuntimeException extends RuntimeException {
        DeviceProvisioningRuntimeException(Throwable cause) { super(cause); }
        DeviceProvisioningRuntimeException(String message, Throwable cause) { super(message, cause); }
        @Override public String toString() { return named("com.aws.greengrass.DeviceProvisioningRuntimeException", getMessage()); }
    }

    /** The nucleus retries the plugin on this one only (3 attempts in all). */
    static final class RetryableProvisioningException extends Exception {
        RetryableProvisioningException(Throwable cause) { super(cause); }
        @Override public String toString() {
            return named("com.aws.greengrass.provisioning.exceptions.RetryableProvisioningException", getMessage());
        }
    }

    /** What the CRT completes an MQTT operation with when the connection fails. */
    static final class MqttException extends RuntimeException {
        MqttException(String message) { super(message); }
        @Override public String toString() { return named("software.amazon.awssdk.crt.mqtt.MqttException", getMessage()); }
    }

    /** The CRT's own failure (e.g. a TLS context from unreadable key files): the plugin does not retry it. */
    static final class CrtRuntimeException extends RuntimeException {
        CrtRuntimeException(String message) { super(message); }
        @Override public String toString() { return named("software.amazon.awssdk.crt.CrtRuntimeException", getMessage()); }
    }
}
