namespace OpenMoE.Runtime.Communication;

/// <summary>Picks the communicator for this process.</summary>
public static class Communicators
{
    /// <summary>
    /// MPI when this process was started by MPICH's <c>mpiexec</c> with more than one rank (its
    /// process manager sets PMI_SIZE), else the single-process communicator: users who ask for no
    /// parallelism need no MPI installed.
    /// </summary>
    public static ICommunicator FromEnvironment() =>
        int.TryParse(Environment.GetEnvironmentVariable("PMI_SIZE"), out int size) && size > 1
            ? MpiCommunicator.Initialize()
            : new SingleProcessCommunicator();
}
