using System.Runtime.CompilerServices;
using System.Text;

namespace OpenMoE.Runtime.Communication;

/// <summary>
/// <see cref="ICommunicator"/> over MPI_COMM_WORLD of MPICH (P/Invoke into libmpich.so.12, no
/// managed MPI package). Errors return to the caller (MPI_ERRORS_RETURN) and surface as
/// <see cref="CommunicatorException"/> naming the call and this rank. One world instance per process
/// (MPI can be initialised once); <see cref="Split"/> makes sub-communicators of it.
/// </summary>
public sealed unsafe class MpiCommunicator : ICommunicator
{
    private readonly bool _world;
    private int _comm;
    private bool _disposed;

    private MpiCommunicator(int comm, bool world, int rank, int size, string name)
    {
        _comm = comm;
        _world = world;
        Rank = rank;
        Size = size;
        Name = name;
    }

    /// <inheritdoc />
    public int Rank { get; }

    /// <inheritdoc />
    public int Size { get; }

    /// <inheritdoc />
    public string Name { get; }

    /// <summary>
    /// Initialises MPI (a process started by <c>mpiexec</c> joins its job). A missing libmpich is a
    /// <see cref="CommunicatorException"/> that says how to install it.
    /// </summary>
    public static MpiCommunicator Initialize()
    {
        try
        {
            Check(MpiNative.Initialized(out int initialized), "MPI_Initialized", -1);
            if (initialized != 0)
                throw new CommunicatorException("MPI is already initialised in this process; make one MpiCommunicator.");
            Check(MpiNative.InitThread(0, 0, MpiNative.ThreadSerialized, out int provided), "MPI_Init_thread", -1);
            if (provided < MpiNative.ThreadSerialized)
                throw new CommunicatorException($"MPI provides thread level {provided}; this program needs MPI_THREAD_SERIALIZED ({MpiNative.ThreadSerialized}).");
            Check(MpiNative.CommSetErrhandler(MpiNative.CommWorld, MpiNative.ErrorsReturn), "MPI_Comm_set_errhandler", -1);
            Check(MpiNative.CommRank(MpiNative.CommWorld, out int rank), "MPI_Comm_rank", -1);
            Check(MpiNative.CommSize(MpiNative.CommWorld, out int size), "MPI_Comm_size", rank);
            return new MpiCommunicator(MpiNative.CommWorld, world: true, rank, size, LibraryVersion());
        }
        catch (DllNotFoundException e)
        {
            throw new CommunicatorException(
                "MPICH's libmpich.so.12 was not found; install MPICH (Debian/Ubuntu: apt-get install mpich) and start the ranks with mpiexec.", e);
        }
    }

    /// <inheritdoc />
    public void Barrier() => Check(MpiNative.Barrier(_comm), "MPI_Barrier", Rank);

    /// <inheritdoc />
    public void AllReduceSum(Span<float> values)
    {
        fixed (float* p = values)
            Check(MpiNative.Allreduce((void*)MpiNative.InPlace, p, values.Length, MpiNative.Float, MpiNative.Sum, _comm), "MPI_Allreduce", Rank);
    }

    /// <inheritdoc />
    public void AllReduceSum(Span<double> values)
    {
        fixed (double* p = values)
            Check(MpiNative.Allreduce((void*)MpiNative.InPlace, p, values.Length, MpiNative.Double, MpiNative.Sum, _comm), "MPI_Allreduce", Rank);
    }

    /// <inheritdoc />
    public void AllGatherVariable<T>(ReadOnlySpan<T> send, ReadOnlySpan<int> counts, Span<T> receive) where T : unmanaged
    {
        CommunicatorChecks.Counts(counts, Size, receive.Length, "gather");
        CommunicatorChecks.OwnBlock(send.Length, counts[Rank], Rank);
        int[] byteCounts = Bytes<T>(counts), displacements = Displacements(byteCounts);
        fixed (T* s = send)
        fixed (T* r = receive)
        fixed (int* c = byteCounts)
        fixed (int* d = displacements)
            Check(MpiNative.Allgatherv(s, byteCounts[Rank], MpiNative.Byte, r, c, d, MpiNative.Byte, _comm), "MPI_Allgatherv", Rank);
    }

    /// <inheritdoc />
    public void AllToAllVariable<T>(ReadOnlySpan<T> send, ReadOnlySpan<int> sendCounts, Span<T> receive, ReadOnlySpan<int> receiveCounts) where T : unmanaged
    {
        CommunicatorChecks.Counts(sendCounts, Size, send.Length, "all-to-all send");
        CommunicatorChecks.Counts(receiveCounts, Size, receive.Length, "all-to-all receive");
        int[] sendBytes = Bytes<T>(sendCounts), receiveBytes = Bytes<T>(receiveCounts);
        int[] sendDisplacements = Displacements(sendBytes), receiveDisplacements = Displacements(receiveBytes);
        fixed (T* s = send)
        fixed (T* r = receive)
        fixed (int* sc = sendBytes)
        fixed (int* sd = sendDisplacements)
        fixed (int* rc = receiveBytes)
        fixed (int* rd = receiveDisplacements)
            Check(MpiNative.Alltoallv(s, sc, sd, MpiNative.Byte, r, rc, rd, MpiNative.Byte, _comm), "MPI_Alltoallv", Rank);
    }

    /// <inheritdoc />
    public ICommunicator Split(int color, int key)
    {
        Check(MpiNative.CommSplit(_comm, color, key, out int comm), "MPI_Comm_split", Rank);
        Check(MpiNative.CommSetErrhandler(comm, MpiNative.ErrorsReturn), "MPI_Comm_set_errhandler", Rank);
        Check(MpiNative.CommRank(comm, out int rank), "MPI_Comm_rank", Rank);
        Check(MpiNative.CommSize(comm, out int size), "MPI_Comm_size", Rank);
        return new MpiCommunicator(comm, world: false, rank, size, Name);
    }

    /// <inheritdoc />
    public void Abort(int exitCode, string reason)
    {
        Console.Error.WriteLine(reason);
        Console.Error.Flush();
        // mpiexec forwards each rank's stderr through its process manager; MPI_Abort kills the ranks at
        // once, and a line still in that pipe is lost (seen under load). A moment lets it through.
        Thread.Sleep(300);
        MpiNative.Abort(MpiNative.CommWorld, exitCode);
        Environment.Exit(exitCode);
    }

    /// <summary>Frees a sub-communicator; the world's finalises MPI (every rank must, after its last collective).</summary>
    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        MpiNative.Finalized(out int finalized);
        if (finalized != 0)
            return;
        if (_world)
            MpiNative.Finalize();
        else
            MpiNative.CommFree(ref _comm);
    }

    /// <summary>Counts in elements of T to counts in bytes; a block of 2 GiB or more does not fit MPI's int counts.</summary>
    private static int[] Bytes<T>(ReadOnlySpan<int> counts) where T : unmanaged
    {
        var bytes = new int[counts.Length];
        for (int i = 0; i < counts.Length; i++)
        {
            long b = (long)counts[i] * Unsafe.SizeOf<T>();
            if (b > int.MaxValue)
                throw new CommunicatorException($"A block of {b:N0} bytes exceeds MPI's int count; split the exchange.");
            bytes[i] = (int)b;
        }
        return bytes;
    }

    private static int[] Displacements(int[] counts)
    {
        var displacements = new int[counts.Length];
        long offset = 0;
        for (int i = 0; i < counts.Length; i++)
        {
            if (offset > int.MaxValue)
                throw new CommunicatorException($"An exchange of {offset:N0} bytes exceeds MPI's int displacements; split the exchange.");
            displacements[i] = (int)offset;
            offset += counts[i];
        }
        return displacements;
    }

    private static void Check(int code, string call, int rank)
    {
        if (code == MpiNative.Success)
            return;
        throw new CommunicatorException($"{call} failed on rank {rank}: {ErrorText(code)} (MPI error {code}).");
    }

    private static string ErrorText(int code)
    {
        var text = stackalloc byte[MpiNative.MaxErrorString];
        return MpiNative.ErrorString(code, text, out int length) == MpiNative.Success
            ? Encoding.ASCII.GetString(text, length).Trim()
            : "no error text";
    }

    private static string LibraryVersion()
    {
        var text = new byte[MpiNative.MaxLibraryVersionString];
        fixed (byte* p = text)
        {
            if (MpiNative.GetLibraryVersion(p, out int length) != MpiNative.Success)
                return "MPI";
            string version = Encoding.ASCII.GetString(p, length);
            // "MPICH Version:\t4.0.2\nMPICH Release date: ..." -> "MPICH 4.0.2"
            var first = version.Split('\n')[0].Replace("Version:", "", StringComparison.Ordinal).Split((char[])['\t', ' '], StringSplitOptions.RemoveEmptyEntries);
            return string.Join(' ', first);
        }
    }
}
