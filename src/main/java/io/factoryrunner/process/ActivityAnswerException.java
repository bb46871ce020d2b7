package io.factoryrunner.process;

import io.factoryrunner.error.ErrorCategory;
import io.factoryrunner.error.FactoryException;

/** An activity answered 2xx with something a process cannot go on from: not JSON, or next activities malformed. */
public final class ActivityAnswerException extends FactoryException {

    public ActivityAnswerException(String message) {
        super(ErrorCategory.HTTP_API, message);
    }
}
