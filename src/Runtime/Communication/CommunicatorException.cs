namespace OpenMoE.Runtime.Communication;

/// <summary>A collective failed, a peer is gone, or the ranks disagree; the message names the rank and the cause.</summary>
public sealed class CommunicatorException : Exception
{
    /// <summary>A failure described by <paramref name="message"/>.</summary>
    public CommunicatorException(string message) : base(message)
    {
    }

    /// <summary>A failure described by <paramref name="message"/>, caused by <paramref name="inner"/>.</summary>
    public CommunicatorException(string message, Exception inner) : base(message, inner)
    {
    }
}
