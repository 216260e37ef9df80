using System.Runtime.InteropServices;

namespace OpenMoE.Runtime.Communication;

/// <summary>
/// The few MPI calls the communicator needs, bound to MPICH's C ABI (libmpich.so.12). MPICH's handles
/// are 32-bit integers with fixed values; these were read from MPICH 4.0.2's
/// /usr/include/x86_64-linux-gnu/mpich/mpi.h (Debian 12 `libmpich-dev`). Open MPI uses pointer
/// handles, so this binding does not run on it (docs/parallelism.md says why MPICH).
/// </summary>
internal static partial class MpiNative
{
    private const string Library = "libmpich.so.12";

    public const int Success = 0;
    public const int CommWorld = 0x44000000;
    public const int Byte = 0x4c00010d;
    public const int Int = 0x4c000405;
    public const int Float = 0x4c00040a;
    public const int Double = 0x4c00080b;
    public const int Sum = 0x58000003;
    public const int ErrorsReturn = 0x54000001;
    public const int MaxErrorString = 512;
    public const int MaxLibraryVersionString = 8192;
    /// <summary>MPI_IN_PLACE is <c>(void*)-1</c>.</summary>
    public static readonly nint InPlace = -1;

    [LibraryImport(Library, EntryPoint = "MPI_Initialized")]
    public static partial int Initialized(out int flag);

    /// <summary>MPI_THREAD_SERIALIZED: calls may come from any thread, one at a time (async code hops threads).</summary>
    public const int ThreadSerialized = 2;

    [LibraryImport(Library, EntryPoint = "MPI_Init_thread")]
    public static partial int InitThread(nint argc, nint argv, int required, out int provided);

    [LibraryImport(Library, EntryPoint = "MPI_Finalized")]
    public static partial int Finalized(out int flag);

    [LibraryImport(Library, EntryPoint = "MPI_Finalize")]
    public static partial int Finalize();

    [LibraryImport(Library, EntryPoint = "MPI_Comm_rank")]
    public static partial int CommRank(int comm, out int rank);

    [LibraryImport(Library, EntryPoint = "MPI_Comm_size")]
    public static partial int CommSize(int comm, out int size);

    [LibraryImport(Library, EntryPoint = "MPI_Comm_set_errhandler")]
    public static partial int CommSetErrhandler(int comm, int handler);

    [LibraryImport(Library, EntryPoint = "MPI_Barrier")]
    public static partial int Barrier(int comm);

    [LibraryImport(Library, EntryPoint = "MPI_Allreduce")]
    public static unsafe partial int Allreduce(void* send, void* receive, int count, int datatype, int op, int comm);

    [LibraryImport(Library, EntryPoint = "MPI_Allgatherv")]
    public static unsafe partial int Allgatherv(void* send, int sendCount, int sendType, void* receive, int* receiveCounts, int* displacements, int receiveType, int comm);

    [LibraryImport(Library, EntryPoint = "MPI_Alltoallv")]
    public static unsafe partial int Alltoallv(void* send, int* sendCounts, int* sendDisplacements, int sendType,
        void* receive, int* receiveCounts, int* receiveDisplacements, int receiveType, int comm);

    [LibraryImport(Library, EntryPoint = "MPI_Comm_split")]
    public static partial int CommSplit(int comm, int color, int key, out int newComm);

    [LibraryImport(Library, EntryPoint = "MPI_Comm_free")]
    public static partial int CommFree(ref int comm);

    [LibraryImport(Library, EntryPoint = "MPI_Abort")]
    public static partial int Abort(int comm, int errorCode);

    [LibraryImport(Library, EntryPoint = "MPI_Error_string")]
    public static unsafe partial int ErrorString(int code, byte* text, out int length);

    [LibraryImport(Library, EntryPoint = "MPI_Get_library_version")]
    public static unsafe partial int GetLibraryVersion(byte* text, out int length);
}
