package io.factoryrunner.testsupport;

import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.encoder.Encoder;
import ch.qos.logback.core.AppenderBase;
import java.nio.charset.StandardCharsets;

/** A logback appender that keeps every formatted line (through the same masking pattern as production). */
public class CapturedLog extends AppenderBase<ILoggingEvent> {

    private static final StringBuffer TEXT = new StringBuffer();
    private Encoder<ILoggingEvent> encoder;

    public void setEncoder(Encoder<ILoggingEvent> encoder) {
        this.encoder = encoder;
    }

    @Override
    public void start() {
        if (encoder != null) {
            encoder.start();
        }
        super.start();
    }

    @Override
    protected void append(ILoggingEvent event) {
        TEXT.append(new String(encoder.encode(event), StandardCharsets.UTF_8));
    }

    public static String text() {
        return TEXT.toString();
    }
}
