package io.factoryrunner.job;

import java.text.ParseException;
import java.time.Instant;
import java.util.Date;
import org.quartz.CronExpression;

/** How many fires of a cron fell between a job's last run and now: those the factory missed while it was down. */
final class MissedFires {

    /** Counting stops here: a per-second cron down for days would otherwise count for a long while, to no use. */
    static final int MOST = 100_000;

    private MissedFires() {
    }

    /**
     * The fires of {@code cron} after {@code lastRun} and at or before {@code now}, at most {@link #MOST}.
     *
     * @throws ParseException when {@code cron} is not a Quartz cron expression
     */
    static int between(String cron, Instant lastRun, Instant now) throws ParseException {
        CronExpression expression = new CronExpression(cron);
        int missed = 0;
        Date next = expression.getNextValidTimeAfter(Date.from(lastRun));
        while (next != null && !next.toInstant().isAfter(now) && missed < MOST) {
            missed++;
            next = expression.getNextValidTimeAfter(next);
        }
        return missed;
    }
}
