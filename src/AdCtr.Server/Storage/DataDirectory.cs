namespace AdCtr.Server.Storage;

/// <summary>The data directory cannot be used: names the path and the cause in one line (<see cref="Exception.Message"/>).</summary>
public sealed class StorageStartupException : IOException
{
    public StorageStartupException(string path, string cause, Exception? inner = null)
        : base("data directory '" + path + "': " + cause, inner)
    {
        Path = path;
        Cause = cause;
    }

    /// <summary>The file or directory at fault.</summary>
    public string Path { get; }

    /// <summary>What is wrong with it.</summary>
    public string Cause { get; }
}

/// <summary>
/// Checks, before anything is opened, that the data directory can hold the example log and the snapshots: every
/// directory exists or can be created, is a directory and takes a file, and no other running server holds the log.
/// </summary>
public static class DataDirectory
{
    private const string WriteTestName = ".write-test";

    /// <exception cref="StorageStartupException">One line naming the path and the cause.</exception>
    public static void Check(StorageOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        foreach (var directory in new[] { options.Path, options.LogDirectory, options.SnapshotDirectory })
        {
            CheckDirectory(System.IO.Path.GetFullPath(directory));
        }

        var log = System.IO.Path.GetFullPath(options.LogDirectory);
        var lockPath = System.IO.Path.Combine(log, ExampleLog.LockFileName);
        try
        {
            using var held = new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException e) when (e is not (FileNotFoundException or DirectoryNotFoundException))
        {
            throw Locked(log, e);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new StorageStartupException(lockPath, "the lock file cannot be opened: " + StorageFaults.Describe(e), e);
        }
    }

    /// <summary>The error for a log directory whose lock another process (or another log in this one) holds.</summary>
    public static StorageStartupException Locked(string logDirectory, Exception? inner = null) =>
        new(logDirectory, "the example log is in use by another running AdCtr server (it holds the lock on '" +
            System.IO.Path.Combine(logDirectory, ExampleLog.LockFileName) + "'); stop that server or choose another AdCtr:Storage:Path", inner);

    /// <summary>The nearest existing ancestor of <paramref name="path"/> when it is a file (which makes the path impossible).</summary>
    private static string? FileAncestor(string path)
    {
        // Bounded by the depth of the path.
        for (var parent = System.IO.Path.GetDirectoryName(path); parent is not null; parent = System.IO.Path.GetDirectoryName(parent))
        {
            if (File.Exists(parent))
            {
                return parent;
            }

            if (Directory.Exists(parent))
            {
                return null;
            }
        }

        return null;
    }

    private static void CheckDirectory(string path)
    {
        if (File.Exists(path))
        {
            throw new StorageStartupException(path, "it is a file, not a directory");
        }

        try
        {
            Directory.CreateDirectory(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            var cause = FileAncestor(path) is { } file ? "'" + file + "' is a file, not a directory" : StorageFaults.Describe(e);
            throw new StorageStartupException(path, "the directory cannot be created: " + cause, e);
        }

        var test = System.IO.Path.Combine(path, WriteTestName);
        try
        {
            using (var file = new FileStream(test, FileMode.Create, FileAccess.Write, FileShare.None))
            {
                file.WriteByte(0);
            }

            File.Delete(test);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            var cause = StorageFaults.Classify(e) == StorageFaultKind.NoSpace ? "the device is full: " : "the directory is not writable: ";
            throw new StorageStartupException(path, cause + StorageFaults.Describe(e), e);
        }
    }
}
