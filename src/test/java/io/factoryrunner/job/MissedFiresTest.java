package io.factoryrunner.job;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.text.ParseException;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;

class MissedFiresTest {

    static final String HOURLY = "0 0 * * * ?";
    static final Instant TEN = Instant.parse("2026-03-02T10:00:00Z");

    @Test
    void no_fire_is_missed_before_the_next_one_is_due() throws ParseException {
        assertThat(MissedFires.between(HOURLY, TEN, TEN.plus(Duration.ofMinutes(59)))).isZero();
    }

    @Test
    void a_fire_due_exactly_now_counts_as_missed() throws ParseException {
        assertThat(MissedFires.between(HOURLY, TEN, TEN.plus(Duration.ofHours(1)))).isEqualTo(1);
    }

    @Test
    void the_fire_of_the_last_run_itself_is_not_counted() throws ParseException {
        assertThat(MissedFires.between(HOURLY, TEN, TEN)).isZero();
    }

    @Test
    void each_fire_between_the_last_run_and_now_is_counted() throws ParseException {
        assertThat(MissedFires.between(HOURLY, TEN, TEN.plus(Duration.ofMinutes(210)))).isEqualTo(3);
        assertThat(MissedFires.between("0 */15 * * * ?", TEN.plusSeconds(1), TEN.plus(Duration.ofHours(1))))
                .isEqualTo(4);
    }

    @Test
    void a_last_run_in_the_future_misses_nothing() throws ParseException {
        assertThat(MissedFires.between(HOURLY, TEN.plus(Duration.ofDays(1)), TEN)).isZero();
    }

    @Test
    void counting_stops_at_its_limit() throws ParseException {
        assertThat(MissedFires.between("* * * * * ?", TEN, TEN.plus(Duration.ofDays(2)))).isEqualTo(MissedFires.MOST);
    }

    @Test
    void a_cron_that_never_fires_again_misses_nothing() throws ParseException {
        assertThat(MissedFires.between("0 0 0 1 1 ? 2020", TEN, TEN.plus(Duration.ofDays(400)))).isZero();
    }

    @Test
    void a_malformed_cron_is_refused() {
        assertThatThrownBy(() -> MissedFires.between("every hour", TEN, TEN)).isInstanceOf(ParseException.class);
    }
}
