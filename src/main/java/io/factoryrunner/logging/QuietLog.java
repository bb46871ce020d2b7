package io.factoryrunner.logging;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.turbo.TurboFilter;
import ch.qos.logback.core.spi.FilterReply;
import org.slf4j.ILoggerFactory;
import org.slf4j.LoggerFactory;
import org.slf4j.Marker;

/**
 * Keeps the log quiet while a command whose output is its answer runs ({@code validate}, {@code config}): the
 * operator reads the verdict, not Camel's start-up log. {@code --verbose} leaves the log on.
 */
public final class QuietLog implements AutoCloseable {

    private final LoggerContext context;
    private final TurboFilter silence = new TurboFilter() {
        @Override
        public FilterReply decide(Marker marker, Logger logger, Level level, String format,
                Object[] params, Throwable t) {
            return FilterReply.DENY;
        }
    };

    private QuietLog(LoggerContext context) {
        this.context = context;
        if (context != null) {
            silence.start();
            context.addTurboFilter(silence);
        }
    }

    /**
     * Silences every logger until {@link #close()}, unless {@code verbose}; does nothing when logback is not the
     * logging backend.
     */
    public static QuietLog unless(boolean verbose) {
        ILoggerFactory factory = LoggerFactory.getILoggerFactory();
        return new QuietLog(!verbose && factory instanceof LoggerContext logback ? logback : null);
    }

    @Override
    public void close() {
        if (context != null) {
            context.getTurboFilterList().remove(silence);
        }
    }
}
