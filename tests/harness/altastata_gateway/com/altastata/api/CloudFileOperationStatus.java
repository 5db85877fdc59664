package com.altastata.api;

/** The status object Altastata gateway operations return (the methods the Python side reads). */
public class CloudFileOperationStatus {
    private final String state;
    private final String path;
    private final String createTime;

    public CloudFileOperationStatus(String state, String path, String createTime) {
        this.state = state;
        this.path = path;
        this.createTime = createTime;
    }

    public String getOperationStateValue() { return state; }
    public String getCloudFilePath() { return path; }
    public String getCloudFileCreateTime() { return createTime; }
}
