package io.factoryrunner.error;

/** The analytics product reports that a build failed. */
public class BuildFailedException extends FactoryException {

    public BuildFailedException(String message) {
        super(ErrorCategory.BUILD_FAILURE, message);
    }
}
