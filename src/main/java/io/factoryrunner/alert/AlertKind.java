package io.factoryrunner.alert;

import java.util.Locale;

/** What an alert tells; each kind has a mail template of the same name ({@code mail/error-opened.txt}). */
public enum AlertKind {
    ERROR_OPENED, REMINDER, RECOVERY, DIGEST, AUTO_PAUSED, EVENT, JOB_BLOCKED, NODE_LOST, OVERDUE, BACK_ON_TIME;

    public String db() {
        return name().toLowerCase(Locale.ROOT);
    }

    public String template() {
        return db().replace('_', '-') + ".txt";
    }
}
