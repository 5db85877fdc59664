package com.altastata.api;

/** The status object Altastata operations return: the members the Python side reads, as the real jar has them. */
public class CloudFileOperationStatus {
    private final String state;
    private final String path;
    private final String createTime;
    private final String error;

    CloudFileOperationStatus(String state, String path, String createTime, String error) {  // not public there
        this.state = state;
        this.path = path;
        this.createTime = createTime;
        this.error = error;
    }

    public String getOperationStateValue() { return state; }
    public String getCloudFilePath() { return path; }
    public String getCloudFileCreateTime() { return createTime; }
    public String getError() { return error; }
}
