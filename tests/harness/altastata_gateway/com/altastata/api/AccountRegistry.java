package com.altastata.api;

import java.io.IOException;

/** How the real jar opens an account (its AltaStataFileSystem constructors are not public): the same two calls. */
public final class AccountRegistry {
    private AccountRegistry() {}

    public static AltaStataFileSystem getOrCreateFromDir(String accountDirPath) throws IOException {
        return new AltaStataFileSystem(accountDirPath);
    }

    public static AltaStataFileSystem getOrCreate(String userProperties, String privateKeyEncrypted)
            throws IOException {
        return new AltaStataFileSystem(userProperties, privateKeyEncrypted);
    }
}
