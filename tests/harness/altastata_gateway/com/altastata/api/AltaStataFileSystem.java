package com.altastata.api;

import java.io.ByteArrayInputStream;
import java.io.FileInputStream;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.Properties;
import java.util.TreeMap;

/**
 * A test double of the Altastata gateway's file system, behind the same method names as the real one.
 *
 * Files are versioned: each createFile makes a new version (its create time in ms), appendBufferToFile extends
 * one. Listings give, per file, its versions as "path✹user_time", newest first, for every path that starts with
 * the prefix as a string (so "a/b" also matches "a/bc", as on the real gateway). The account directory must hold
 * account.properties with myuser= and password=; setPassword checks it.
 */
public class AltaStataFileSystem {
    private static final String MARK = "\u2739";
    private static long lastTime = 0;

    private final Path root;
    private final String user;
    private final String expectedPassword;
    private boolean unlocked = false;

    AltaStataFileSystem(String accountDirPath) throws IOException {  // not public, as in the real jar
        Path dir = Paths.get(accountDirPath);
        Path props = dir.resolve("account.properties");
        if (!Files.isRegularFile(props)) {
            throw new FileNotFoundException("no account.properties in account directory " + accountDirPath);
        }
        Properties p = new Properties();
        try (InputStream in = Files.newInputStream(props)) {
            p.load(in);
        }
        this.user = p.getProperty("myuser", "user");
        this.expectedPassword = p.getProperty("password", "");
        this.root = Paths.get(System.getProperty("altastata.data")).resolve(user);
        Files.createDirectories(root);
    }

    AltaStataFileSystem(String userProperties, String privateKeyEncrypted) throws IOException {
        Properties p = new Properties();
        p.load(new java.io.StringReader(userProperties));
        if (privateKeyEncrypted == null || !privateKeyEncrypted.contains("PRIVATE KEY")) {
            throw new IllegalArgumentException("the private key is not a PEM private key");
        }
        this.user = p.getProperty("myuser", "user");
        this.expectedPassword = p.getProperty("password", "");
        this.root = Paths.get(System.getProperty("altastata.data")).resolve(user);
        Files.createDirectories(root);
    }

    public synchronized AltaStataFileSystem setPassword(String password) {
        unlocked = expectedPassword.equals(password);
        if (!unlocked) {
            throw new SecurityException("wrong password for account " + user);
        }
        return this;
    }

    private void requireUnlocked() {
        if (!unlocked) {
            throw new SecurityException("the account is locked: call setPassword first");
        }
    }

    private static synchronized long nextTime() {
        long now = System.currentTimeMillis();
        lastTime = Math.max(now, lastTime + 1);
        return lastTime;
    }

    /** One folder per file, named by a hash of its path (paths may be longer than a file name may be). */
    private Path fileDir(String cloudPath) {
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(cloudPath.getBytes(StandardCharsets.UTF_8));
            StringBuilder hex = new StringBuilder();
            for (byte b : digest) {
                hex.append(String.format("%02x", b));
            }
            return root.resolve(hex.toString());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String pathOf(Path dir) throws IOException {
        Path name = dir.resolve("path");
        return Files.isRegularFile(name) ? Files.readString(name, StandardCharsets.UTF_8) : null;
    }

    private TreeMap<Long, Path> versions(String cloudPath) throws IOException {
        TreeMap<Long, Path> found = new TreeMap<>(Collections.reverseOrder());
        Path dir = fileDir(cloudPath);
        if (!Files.isDirectory(dir)) {
            return found;
        }
        try (DirectoryStream<Path> stream = Files.newDirectoryStream(dir, "*.bin")) {
            for (Path version : stream) {
                String name = version.getFileName().toString();
                found.put(Long.parseLong(name.substring(0, name.length() - 4)), version);
            }
        }
        return found;
    }

    private Path latest(String cloudPath, Long snapshotTime) throws IOException {
        TreeMap<Long, Path> all = versions(cloudPath);
        if (all.isEmpty()) {
            throw new FileNotFoundException("no such file: " + cloudPath);
        }
        if (snapshotTime != null && snapshotTime != 0L) {
            Path exact = all.get(snapshotTime);
            if (exact == null) {
                throw new FileNotFoundException("no version " + snapshotTime + " of " + cloudPath);
            }
            return exact;
        }
        return all.firstEntry().getValue();
    }

    public synchronized CloudFileOperationStatus createFile(String cloudFilePath, byte[] buffer) throws IOException {
        requireUnlocked();
        long time = nextTime();
        Path dir = fileDir(cloudFilePath);
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("path"), cloudFilePath, StandardCharsets.UTF_8);
        Path tmp = dir.resolve(time + ".tmp");
        Files.write(tmp, buffer == null ? new byte[0] : buffer);
        if (cloudFilePath.endsWith("refused-by-gateway")) {  // a hostile answer: the operation state says ERROR
            Files.delete(tmp);
            return new CloudFileOperationStatus("ERROR", cloudFilePath, "", "the storage refused the upload");
        }
        Files.move(tmp, dir.resolve(time + ".bin"), StandardCopyOption.ATOMIC_MOVE);
        return new CloudFileOperationStatus("DONE", cloudFilePath, Long.toString(time), null);
    }

    public synchronized void appendBufferToFile(String cloudFilePath, Long snapshotTime, byte[] buffer)
            throws IOException {
        requireUnlocked();
        Files.write(latest(cloudFilePath, snapshotTime), buffer, StandardOpenOption.APPEND);
    }

    public synchronized Iterator<String[]> listCloudFilesVersions(
            String cloudPathPrefix, Boolean includingSubdirectories, String timeIntervalStart, String timeIntervalEnd)
            throws IOException {
        requireUnlocked();
        List<String[]> result = new ArrayList<>();
        try (DirectoryStream<Path> stream = Files.newDirectoryStream(root)) {
            List<String> paths = new ArrayList<>();
            for (Path dir : stream) {
                String path = pathOf(dir);
                if (path != null) {
                    paths.add(path);
                }
            }
            Collections.shuffle(paths);  // the real gateway promises no order either
            for (String path : paths) {
                if (!path.startsWith(cloudPathPrefix)) {
                    continue;
                }
                String rest = path.substring(cloudPathPrefix.length());
                if (!includingSubdirectories && rest.replaceFirst("^/", "").contains("/")) {
                    continue;
                }
                TreeMap<Long, Path> all = versions(path);
                if (all.isEmpty()) {
                    continue;
                }
                List<String> names = new ArrayList<>();
                for (Long time : all.keySet()) {
                    names.add(path + MARK + user + "_" + time);
                }
                result.add(names.toArray(new String[0]));
            }
        }
        return result.iterator();
    }

    public synchronized String getFileAttribute(String cloudFilePath, Long snapshotTime, String name)
            throws IOException {
        requireUnlocked();
        if (!"size".equals(name)) {
            return null;
        }
        try {
            return Long.toString(Files.size(latest(cloudFilePath, snapshotTime)));
        } catch (FileNotFoundException e) {
            return null;  // as on the real gateway: a missing file's size is null
        }
    }

    public InputStream getFileInputStream(String cloudFilePath, Long snapshotTime, Long startPosition,
            int howManyChunksInParallel) throws IOException {
        Path version;
        synchronized (this) {
            requireUnlocked();
            version = latest(cloudFilePath, snapshotTime);
        }
        FileInputStream in = new FileInputStream(version.toFile());
        long skipped = 0;
        while (skipped < startPosition) {
            long n = in.skip(startPosition - skipped);
            if (n <= 0) {
                break;
            }
            skipped += n;
        }
        return in;
    }

    public byte[] readBufferFromInputStream(InputStream in, int bufferSize) throws IOException {
        byte[] buffer = in.readNBytes(bufferSize);
        if (buffer.length == 0) {
            in.close();
            return null;
        }
        return buffer;
    }

    public byte[] getBuffer(String cloudFilePath, Long snapshotTime, Long startPosition, int parallel, int size)
            throws IOException {
        try (InputStream in = getFileInputStream(cloudFilePath, snapshotTime, startPosition, parallel)) {
            return size < 0 ? in.readAllBytes() : in.readNBytes((int) size);
        }
    }

    public synchronized CloudFileOperationStatus copyFile(String from, String to) throws IOException {
        requireUnlocked();
        Path source = latest(from, null);
        long time = nextTime();
        Path dir = fileDir(to);
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("path"), to, StandardCharsets.UTF_8);
        Path tmp = dir.resolve(time + ".tmp");
        Files.copy(source, tmp, StandardCopyOption.REPLACE_EXISTING);  // streamed, never whole in memory
        Files.move(tmp, dir.resolve(time + ".bin"), StandardCopyOption.ATOMIC_MOVE);
        return new CloudFileOperationStatus("DONE", to, Long.toString(time), null);
    }

    /** Deletes every file whose path starts with the prefix: "a/b" also takes "a/bc" (the hazard). */
    public synchronized List<CloudFileOperationStatus> delete(
            String cloudPathPrefix, Boolean includingSubdirectories, String start, String end) throws IOException {
        requireUnlocked();
        List<CloudFileOperationStatus> statuses = new ArrayList<>();
        Iterator<String[]> it = listCloudFilesVersions(cloudPathPrefix, includingSubdirectories, start, end);
        while (it.hasNext()) {
            String path = it.next()[0].split(MARK)[0];
            statuses.addAll(deletePaths(new String[] {path}, start, end));
        }
        return statuses;
    }

    /** Deletes exactly these paths (every version; the time interval is not modelled). */
    public synchronized List<CloudFileOperationStatus> deletePaths(
            String[] cloudFilePaths, String timeIntervalStart, String timeIntervalEnd) throws IOException {
        requireUnlocked();
        List<CloudFileOperationStatus> statuses = new ArrayList<>();
        for (String path : cloudFilePaths) {
            Path dir = fileDir(path);
            TreeMap<Long, Path> all = versions(path);
            for (Path version : all.values()) {
                Files.deleteIfExists(version);
            }
            Files.deleteIfExists(dir.resolve("path"));
            Files.deleteIfExists(dir);
            statuses.add(new CloudFileOperationStatus(all.isEmpty() ? "NONE" : "DELETED", path, "", null));
        }
        return statuses;
    }
}
