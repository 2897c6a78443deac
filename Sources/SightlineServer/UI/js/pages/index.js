// The pages, in navigation order.
export default [];
