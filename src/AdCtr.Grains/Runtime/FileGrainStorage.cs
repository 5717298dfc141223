using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace AdCtr.Grains.Runtime;

/// <summary>
/// <see cref="IGrainStorage"/> on the local file system: one file per grain under
/// <c>root/{grain type}/{key}.state</c>. A write goes to <c>{file}.tmp</c>, is flushed to the device
/// (<c>fsync</c>), renamed over the previous file (atomic on POSIX file systems) and the directory is
/// fsynced so that the rename itself survives a power loss. A crash at any point therefore leaves either
/// the previous or the new state readable; a leftover <c>.tmp</c> file is ignored by reads and overwritten
/// by the next write. One process owns a root directory (no cross-process locking).
/// </summary>
public sealed partial class FileGrainStorage : IGrainStorage
{
    /// <summary>Extension of a committed state file.</summary>
    public const string StateFileExtension = ".state";

    /// <summary>Suffix of the temporary file a write goes through.</summary>
    public const string TempFileSuffix = ".tmp";

    private const int BufferSize = 64 * 1024;
    private const int MaxFileNameLength = 200;

    private readonly string _root;
    private readonly IGrainStorageSerializer _serializer;

    public FileGrainStorage(string rootDirectory, IGrainStorageSerializer? serializer = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(rootDirectory);
        _root = Path.GetFullPath(rootDirectory);
        _serializer = serializer ?? new JsonGrainStorageSerializer();
        Directory.CreateDirectory(_root);
    }

    /// <summary>The root directory.</summary>
    public string RootDirectory => _root;

    /// <summary>The path of the committed state file of <paramref name="grainId"/>.</summary>
    public string GetStatePath(GrainId grainId) =>
        Path.Combine(_root, EscapeName(grainId.Type, 't'), KeyFileName(grainId.Key) + StateFileExtension);

    public async Task ReadStateAsync<T>(GrainId grainId, IGrainState<T> grainState, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(grainState);
        var path = GetStatePath(grainId);
        FileStream stream;
        try
        {
            stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, BufferSize, FileOptions.SequentialScan);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            grainState.RecordExists = false;
            return;
        }

        await using (stream.ConfigureAwait(false))
        {
            grainState.State = await _serializer.DeserializeAsync<T>(stream, cancellationToken).ConfigureAwait(false);
        }

        grainState.RecordExists = true;
    }

    public async Task WriteStateAsync<T>(GrainId grainId, IGrainState<T> grainState, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(grainState);
        var path = GetStatePath(grainId);
        var directory = Path.GetDirectoryName(path)!;
        Directory.CreateDirectory(directory);
        var temp = path + TempFileSuffix;
        try
        {
            var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, BufferSize);
            await using (stream.ConfigureAwait(false))
            {
                await _serializer.SerializeAsync(grainState.State, stream, cancellationToken).ConfigureAwait(false);
                await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temp, path, overwrite: true);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }

        FsyncDirectory(directory);
        grainState.RecordExists = true;
    }

    public Task ClearStateAsync<T>(GrainId grainId, IGrainState<T> grainState, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(grainState);
        var path = GetStatePath(grainId);
        if (File.Exists(path))
        {
            File.Delete(path);
            FsyncDirectory(Path.GetDirectoryName(path)!);
        }

        grainState.RecordExists = false;
        return Task.CompletedTask;
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
            // Best effort: a leftover temp file is ignored by reads and replaced by the next write.
        }
        catch (UnauthorizedAccessException)
        {
            // Same as above.
        }
    }

    private static string KeyFileName(GrainKey key) =>
        key.IsLongKey ? "l" + key.LongKey.ToString(CultureInfo.InvariantCulture) : EscapeName(key.StringKey!, 's');

    // File names keep [A-Za-z0-9_-] and escape every other UTF-8 byte as %XX, behind a one-letter prefix, so a
    // key can never name a parent directory, a hidden file or a temp file.
    private static string EscapeName(string name, char prefix)
    {
        var builder = new StringBuilder(name.Length + 1);
        builder.Append(prefix);
        Span<byte> utf8 = stackalloc byte[4];
        foreach (var rune in name.EnumerateRunes())
        {
            if (rune.IsAscii && (char.IsAsciiLetterOrDigit((char)rune.Value) || rune.Value is '_' or '-'))
            {
                builder.Append((char)rune.Value);
                continue;
            }

            var length = rune.EncodeToUtf8(utf8);
            for (var i = 0; i < length; i++)
            {
                builder.Append('%').Append(utf8[i].ToString("X2", CultureInfo.InvariantCulture));
            }
        }

        if (builder.Length > MaxFileNameLength)
        {
            throw new ArgumentException("The grain type or key is too long to be a file name (" +
                builder.Length.ToString(CultureInfo.InvariantCulture) + " characters once escaped).", nameof(name));
        }

        return builder.ToString();
    }

    // rename(2) is atomic, but it is only durable once the directory entry is on disk: fsync the directory
    // (POSIX; Windows has no equivalent and NTFS journals the rename).
    private static void FsyncDirectory(string directory)
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS() && !OperatingSystem.IsFreeBSD())
        {
            return;
        }

        var fd = Native.Open(directory, 0 /* O_RDONLY */);
        if (fd < 0)
        {
            throw new IOException("Cannot open directory " + directory + " to fsync it, errno " +
                Marshal.GetLastPInvokeError().ToString(CultureInfo.InvariantCulture) + ".");
        }

        try
        {
            const int EInval = 22;
            if (Native.Fsync(fd) != 0 && Marshal.GetLastPInvokeError() is var errno && errno != EInval)
            {
                throw new IOException("fsync of directory " + directory + " failed, errno " +
                    errno.ToString(CultureInfo.InvariantCulture) + ".");
            }
        }
        finally
        {
            _ = Native.Close(fd);
        }
    }

    private static partial class Native
    {
        [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        internal static partial int Open(string path, int flags);

        [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
        internal static partial int Fsync(int fd);

        [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
        internal static partial int Close(int fd);
    }
}
