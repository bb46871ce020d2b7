package io.factoryrunner.logging;

import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.encoder.Encoder;
import ch.qos.logback.core.encoder.EncoderBase;
import java.util.Locale;
import java.util.Optional;

/**
 * The encoder of the factory's log appenders: it writes each line with its {@code text} encoder or its {@code json}
 * one, as {@code factory.log.format} says. Logback starts before the factory reads its configuration, so the format
 * is switched once the configuration is read; until then it is {@code FACTORY_LOG_FORMAT} from the environment, if
 * set, else text.
 */
public class LogFormat extends EncoderBase<ILoggingEvent> {

    /** The two formats, as {@code factory.log.format} names them. */
    public enum Format {
        TEXT, JSON;

        static Optional<Format> of(String value) {
            for (Format format : values()) {
                if (format.name().equalsIgnoreCase(value.trim())) {
                    return Optional.of(format);
                }
            }
            return Optional.empty();
        }
    }

    private static volatile Format current = Optional.ofNullable(System.getenv("FACTORY_LOG_FORMAT"))
            .flatMap(Format::of).orElse(Format.TEXT);

    private Encoder<ILoggingEvent> text;
    private Encoder<ILoggingEvent> json;

    /** Switches every appender of the factory to the format; refuses a value that is neither text nor json. */
    public static void use(String format) {
        current = Format.of(format).orElseThrow(() -> new IllegalArgumentException("Configuration key"
                + " 'factory.log.format' has value '" + format + "' that is neither text nor json"));
    }

    /** Whether the value names a format. */
    public static boolean isFormat(String value) {
        return Format.of(value).isPresent();
    }

    public static Format current() {
        return current;
    }

    public void setText(Encoder<ILoggingEvent> text) {
        this.text = text;
    }

    public void setJson(Encoder<ILoggingEvent> json) {
        this.json = json;
    }

    @Override
    public void start() {
        if (text == null || json == null) {
            addError("LogFormat needs a <text> and a <json> encoder");
            return;
        }
        text.start();
        json.start();
        super.start();
    }

    @Override
    public void stop() {
        text.stop();
        json.stop();
        super.stop();
    }

    private Encoder<ILoggingEvent> encoder() {
        return current == Format.JSON ? json : text;
    }

    @Override
    public byte[] headerBytes() {
        return encoder().headerBytes();
    }

    @Override
    public byte[] encode(ILoggingEvent event) {
        return encoder().encode(event);
    }

    @Override
    public byte[] footerBytes() {
        return encoder().footerBytes();
    }

    @Override
    public String toString() {
        return "LogFormat[" + current.name().toLowerCase(Locale.ROOT) + "]";
    }
}
