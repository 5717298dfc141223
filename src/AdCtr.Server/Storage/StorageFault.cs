namespace AdCtr.Server.Storage;

/// <summary>What kind of storage failure an operation met.</summary>
public enum StorageFaultKind
{
    /// <summary>Not a storage failure.</summary>
    None = 0,

    /// <summary>The file system is full (ENOSPC) or a quota is exhausted (EDQUOT): retrying after space is freed succeeds.</summary>
    NoSpace = 1,

    /// <summary>Any other I/O failure (EIO, a read-only file system, a vanished device, a permission change ...).</summary>
    IoError = 2,
}

/// <summary>
/// A write to the data directory failed. Nothing of the operation that threw it was acknowledged: for an append,
/// none of its records will be read back (the log rolled its file back, and a batch left unfinished on disk is
/// never replayed). <see cref="Kind"/> tells a full disk from other faults, <see cref="Path"/> names the file.
/// </summary>
public sealed class StorageFaultException : IOException
{
    public StorageFaultException(StorageFaultKind kind, string operation, string path, string message, Exception? inner)
        : base(message, inner)
    {
        Kind = kind;
        Operation = operation;
        Path = path;
    }

    /// <summary>No space, or another I/O fault.</summary>
    public StorageFaultKind Kind { get; }

    /// <summary>What was being done: <c>append</c>, <c>fsync</c>, <c>probe</c>, <c>snapshot</c>.</summary>
    public string Operation { get; }

    /// <summary>The file or directory concerned.</summary>
    public string Path { get; }
}

/// <summary>Classifies exceptions of file operations.</summary>
public static class StorageFaults
{
    // errno values (Linux; macOS has ENOSPC 28 and EDQUOT 69). On Unix .NET puts the raw errno in IOException.HResult.
    private const int Enospc = 28;
    private const int EdquotLinux = 122;
    private const int EdquotMac = 69;

    // Windows HRESULTs: ERROR_HANDLE_DISK_FULL (39) and ERROR_DISK_FULL (112) as FACILITY_WIN32.
    private const int HandleDiskFull = unchecked((int)0x80070027);
    private const int DiskFull = unchecked((int)0x80070070);

    /// <summary>
    /// <see cref="StorageFaultKind.NoSpace"/> for a full disk or exhausted quota anywhere in the exception chain,
    /// <see cref="StorageFaultKind.IoError"/> for other <see cref="IOException"/>s and <see cref="UnauthorizedAccessException"/>,
    /// <see cref="StorageFaultKind.None"/> otherwise.
    /// </summary>
    public static StorageFaultKind Classify(Exception? exception)
    {
        var kind = StorageFaultKind.None;
        // Bounded by the depth of the inner-exception chain.
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (e is StorageFaultException fault)
            {
                return fault.Kind;
            }

            if (e is IOException or UnauthorizedAccessException)
            {
                if (IsNoSpace(e.HResult))
                {
                    return StorageFaultKind.NoSpace;
                }

                kind = StorageFaultKind.IoError;
            }
        }

        return kind;
    }

    /// <summary>The operating system's text for the fault, without the file name .NET appends ("No space left on device").</summary>
    public static string Describe(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        if (exception is StorageFaultException)
        {
            return exception.Message;
        }

        var message = exception.Message;
        var quote = message.IndexOf(" : '", StringComparison.Ordinal);
        return quote > 0 ? message[..quote] : message;
    }

    private static bool IsNoSpace(int hresult) =>
        OperatingSystem.IsWindows()
            ? hresult is HandleDiskFull or DiskFull
            : hresult == Enospc || hresult == (OperatingSystem.IsLinux() ? EdquotLinux : EdquotMac);
}
