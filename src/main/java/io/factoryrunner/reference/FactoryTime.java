package io.factoryrunner.reference;

import java.time.Clock;
import org.apache.camel.util.TimeUtils;

/** Time for routes, from the factory's clock (tests move it): {@code ${bean:factoryTime?method=now}}. */
public final class FactoryTime {

    private final Clock clock;

    public FactoryTime(Clock clock) {
        this.clock = clock;
    }

    /** Milliseconds since the epoch. */
    public long now() {
        return clock.millis();
    }

    /** True when more than {@code duration} ({@code 30m}, {@code 7d}...) has passed since {@code sinceMillis}. */
    public boolean passed(long sinceMillis, String duration) {
        return clock.millis() - sinceMillis > TimeUtils.toMilliSeconds(duration.trim());
    }
}
