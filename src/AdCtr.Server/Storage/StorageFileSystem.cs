using Microsoft.Win32.SafeHandles;

namespace AdCtr.Server.Storage;

/// <summary>
/// The file operations of the <see cref="ExampleLog"/> and the <see cref="SnapshotStore"/>, behind one seam so that
/// tests can make them fail the way a full or broken disk does (no space after part of a write, I/O errors,
/// failed fsyncs) on any machine. <see cref="Default"/> calls the real file system; a test subclass overrides
/// only what it wants to break. Reading (scans, replay, snapshot loads) goes to the real file system.
/// </summary>
public class StorageFileSystem
{
    /// <summary>The real file system.</summary>
    public static StorageFileSystem Default { get; } = new();

    /// <summary><see cref="File.OpenHandle"/>.</summary>
    public virtual SafeFileHandle OpenHandle(string path, FileMode mode, FileAccess access, FileShare share) =>
        File.OpenHandle(path, mode, access, share);

    /// <summary><see cref="RandomAccess.Write(SafeFileHandle, ReadOnlySpan{byte}, long)"/>: all bytes, or an exception (some may have been written).</summary>
    public virtual void Write(SafeFileHandle handle, ReadOnlySpan<byte> data, long fileOffset) =>
        RandomAccess.Write(handle, data, fileOffset);

    /// <summary><see cref="RandomAccess.FlushToDisk"/> (fsync).</summary>
    public virtual void FlushToDisk(SafeFileHandle handle) => RandomAccess.FlushToDisk(handle);

    /// <summary><see cref="RandomAccess.SetLength"/> (ftruncate).</summary>
    public virtual void SetLength(SafeFileHandle handle, long length) => RandomAccess.SetLength(handle, length);

    /// <summary><see cref="File.Delete"/>.</summary>
    public virtual void DeleteFile(string path) => File.Delete(path);

    /// <summary><see cref="File.Move(string, string, bool)"/> (rename(2)).</summary>
    public virtual void Move(string source, string destination, bool overwrite) => File.Move(source, destination, overwrite);

    /// <summary>Creates (or replaces) a file for writing a snapshot: readable, writable and seekable (the header is rewritten at the end).</summary>
    public virtual Stream CreateForWriting(string path) =>
        new FileStream(path, FileMode.Create, FileAccess.ReadWrite, FileShare.None, 1 << 16, FileOptions.Asynchronous);

    /// <summary>fsync of a stream returned by <see cref="CreateForWriting"/>.</summary>
    public virtual void FlushToDisk(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (stream is FileStream file)
        {
            file.Flush(flushToDisk: true);
        }
        else
        {
            stream.Flush();
        }
    }
}
