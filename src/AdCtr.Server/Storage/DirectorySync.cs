using System.Runtime.InteropServices;

namespace AdCtr.Server.Storage;

/// <summary>
/// fsync of a directory, so that a file created, renamed or deleted in it survives a power loss. .NET has no
/// API for it (a directory cannot be opened as a FileStream), so on Linux this calls libc: <c>open(dir, O_RDONLY)</c>,
/// <c>fsync(fd)</c>, <c>close(fd)</c>. On other systems it does nothing and returns false (the rename itself is
/// still atomic; only its durability across power loss is left to the file system).
/// </summary>
internal static partial class DirectorySync
{
    private const int ORdOnly = 0;
    private const int EInval = 22;

    /// <summary>fsyncs <paramref name="directory"/>; false when not supported here or the directory cannot be opened.</summary>
    /// <exception cref="IOException">fsync itself failed (the directory's metadata may not be durable).</exception>
    public static bool TryFsync(string directory)
    {
        if (!OperatingSystem.IsLinux())
        {
            return false;
        }

        var fd = Open(directory, ORdOnly);
        if (fd < 0)
        {
            return false;
        }

        try
        {
            if (Fsync(fd) != 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                if (errno == EInval)
                {
                    return false; // the file system does not support fsync on directories
                }

                throw new IOException("fsync of directory '" + directory + "' failed with errno " + errno + ".");
            }

            return true;
        }
        finally
        {
            _ = Close(fd);
        }
    }

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);
}
